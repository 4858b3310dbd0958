-- question: How many attempts are there, counted as rows and as distinct attempts?
select
    count(*) as exams,
    sum(distinct_attempts) as distinct_attempts,
    sum(attempt_rows) as attempt_rows,
    min(first_attempt_at) as first_attempt_at,
    max(last_attempt_at) as last_attempt_at
from marts.mart_exam_popularity
