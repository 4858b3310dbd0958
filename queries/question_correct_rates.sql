-- question: How are questions spread by correct rate (in steps of 5 %, asked at least 20 times)?
select
    least(floor(correct_rate * 20), 19) / 20 as correct_rate_from,
    count(*) as questions
from marts.mart_question_difficulty
where times_asked >= 20
group by correct_rate_from
order by correct_rate_from
