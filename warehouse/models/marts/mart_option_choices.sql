-- grain: one row per answer option of a question (question_key, option_id)
{{ config(unique_key=['question_key', 'option_id']) }}

with

options as (

    select * from {{
        rows_of_changed_keys(
            ref('flat_assessments__attempt_question_options'), 'question_key', is_incremental()
        )
    }}
    {{ test_records_filter() }}

),

final as (

    select
        question_key,
        option_id,
        base_exam_id,
        question_id,
        min(option_position) as option_position,
        count(*) as times_shown,
        count_if(is_checked) as times_checked,
        count_if(is_checked) / count(*) as checked_rate,
        -- the export marks correct options only sometimes: one mark is enough
        coalesce(bool_or(is_correct), false) as is_correct_option,
        current_timestamp() as built_at
    from options
    group by question_key, option_id, base_exam_id, question_id

)

select * from final
