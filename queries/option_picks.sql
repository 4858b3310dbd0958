-- question: Which options do people pick for the most asked question, and which is correct?
with most_asked as (
    select question_key
    from marts.mart_question_difficulty
    order by times_asked desc, question_key
    limit 1
)

select
    choices.option_position,
    choices.option_id,
    choices.times_checked,
    round(choices.checked_rate, 3) as checked_rate,
    choices.is_correct_option
from marts.mart_option_choices as choices
inner join most_asked
    on choices.question_key = most_asked.question_key
order by choices.option_position
