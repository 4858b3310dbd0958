-- grain: one row per question (question_key = base_exam_id:question_id)
{{ config(unique_key='question_key') }}

with

questions as (

    select * from {{
        rows_of_changed_keys(
            ref('flat_assessments__attempt_questions'), 'base_exam_id', is_incremental()
        )
    }}
    {{ test_records_filter() }}

),

aggregated as (

    select
        question_key,
        base_exam_id,
        question_id,
        min(question_position) as question_position,
        count(*) as times_asked,
        count_if(user_result = 'correct') as correct_answers,
        count_if(user_result = 'incorrect') as incorrect_answers,
        count_if(user_result = 'missed_some') as incomplete_answers,
        count_if(user_result = 'unanswered') as unanswered_questions,
        count_if(user_result = 'correct') / count(*) as correct_rate
    from questions
    group by question_key, base_exam_id, question_id

),

final as (

    select
        aggregated.question_key,
        aggregated.base_exam_id,
        exams.exam_name,
        aggregated.question_id,
        aggregated.question_position,
        aggregated.times_asked,
        aggregated.correct_answers,
        aggregated.incorrect_answers,
        aggregated.incomplete_answers,
        aggregated.unanswered_questions,
        aggregated.correct_rate,
        dense_rank() over (
            partition by aggregated.base_exam_id order by aggregated.correct_rate
        ) as difficulty_rank_in_exam,
        current_timestamp() as built_at
    from aggregated
    inner join {{ ref('dim_exams') }} as exams
        on aggregated.base_exam_id = exams.base_exam_id

)

select * from final
