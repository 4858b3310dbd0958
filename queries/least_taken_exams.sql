-- question: Which exams are taken least (distinct attempts)?
select
    exam_name,
    base_exam_id,
    distinct_attempts,
    attempt_rows
from marts.mart_exam_popularity
order by distinct_attempts, base_exam_id
limit 10
