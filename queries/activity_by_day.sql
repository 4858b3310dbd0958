-- question: How many attempts are there per day (UTC)?
select
    activity_date,
    distinct_attempts,
    attempt_rows,
    exams_taken
from marts.mart_activity_daily
order by activity_date
