-- The export's consistency rules (docs/data.md), checked on every attempt with counts:
-- total = number of questions; correct / incorrect / incomplete / unanswered = the
-- questions whose user_result is correct / incorrect / missed_some / unanswered, and
-- they sum to total; submitted = questions with user_submitted; all_correct =
-- (correct = total). Returns one row per attempt and broken rule.
-- Checks the attempts the latest dbt run wrote (every attempt after a full build): an
-- attempt's row and its questions are rebuilt together, by partition, and nothing else
-- changes them.

with

attempts as (

    select * from {{ ref('stg_assessments__attempts') }}
    where
        has_counts
        and {{ latest_build(ref('stg_assessments__attempts')) }}

),

questions as (

    select * from {{ ref('flat_assessments__attempt_questions') }}
    where {{ latest_build(ref('flat_assessments__attempt_questions')) }}

),

from_questions as (

    select
        attempt_id,
        count(*) as questions,
        count_if(user_result = 'correct') as correct,
        count_if(user_result = 'incorrect') as incorrect,
        count_if(user_result = 'missed_some') as incomplete,
        count_if(user_result = 'unanswered') as unanswered,
        count_if(user_submitted) as submitted
    from questions
    group by attempt_id

),

compared as (

    select
        attempts.attempt_id,
        attempts.counts_total,
        coalesce(from_questions.questions, 0) as questions,
        array(
            if(
                attempts.counts_total != coalesce(from_questions.questions, 0),
                'total != number of questions', null
            ),
            if(
                attempts.counts_correct != coalesce(from_questions.correct, 0),
                'correct != questions answered correct', null
            ),
            if(
                attempts.counts_incorrect != coalesce(from_questions.incorrect, 0),
                'incorrect != questions answered incorrect', null
            ),
            if(
                attempts.counts_incomplete != coalesce(from_questions.incomplete, 0),
                'incomplete != questions missed_some', null
            ),
            if(
                attempts.counts_unanswered != coalesce(from_questions.unanswered, 0),
                'unanswered != questions unanswered', null
            ),
            if(
                attempts.counts_correct + attempts.counts_incorrect
                + attempts.counts_incomplete + attempts.counts_unanswered
                != attempts.counts_total, 'results do not sum to total', null
            ),
            if(
                attempts.counts_submitted != coalesce(from_questions.submitted, 0),
                'submitted != questions submitted', null
            ),
            if(
                attempts.counts_all_correct != (attempts.counts_correct = attempts.counts_total),
                'all_correct != (correct = total)', null
            )
        ) as checks
    from attempts
    left join from_questions
        on attempts.attempt_id = from_questions.attempt_id

),

broken as (

    select
        attempt_id,
        counts_total,
        questions,
        explode(filter(checks, rule -> rule is not null)) as broken_rule
    from compared

)

select * from broken
