-- question: Which exams are taken most (distinct attempts, test records excluded)?
select
    exam_name,
    base_exam_id,
    distinct_attempts,
    attempt_rows
from marts.mart_exam_popularity
order by distinct_attempts desc, base_exam_id
limit 10
