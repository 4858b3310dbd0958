-- question: When do people take exams (attempts per hour of day, UTC)?
select
    hour_of_day_utc,
    distinct_attempts,
    attempt_rows
from marts.mart_activity_hourly
order by hour_of_day_utc
