-- question: Which questions are hardest (lowest correct rate, asked at least 20 times)?
select
    exam_name,
    base_exam_id,
    question_id,
    times_asked,
    round(correct_rate, 3) as correct_rate
from marts.mart_question_difficulty
where times_asked >= 20
order by correct_rate, times_asked desc, question_key
limit 10
