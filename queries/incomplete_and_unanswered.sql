-- question: How many answers are incomplete or left unanswered, per exam?
select
    exam_name,
    scored_attempts,
    incomplete_answers,
    unanswered_questions,
    questions_answered
from marts.mart_exam_scores
order by incomplete_answers + unanswered_questions desc, base_exam_id
limit 10
