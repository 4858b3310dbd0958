-- question: Do the marts include development test records (built with include_test_records)?
select count(*) as test_exams
from marts.dim_exams
where is_test_exam
