-- question: Which exam names belong to more than one exam id?
select
    exam_name,
    base_exam_id,
    distinct_attempts,
    question_count
from marts.dim_exams
where is_name_shared
order by exam_name, base_exam_id
