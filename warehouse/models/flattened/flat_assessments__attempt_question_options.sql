-- grain: one row per attempt x question x option (attempt_id, question_position,
-- option_position)
with

questions as (

    select * from {{ ref('flat_assessments__attempt_questions') }}
    {% if is_incremental() %}
    where
        {{ changed_partitions(
            ref('flat_assessments__attempt_questions'), 'partition_loaded_at'
        ) }}
    {% endif %}

),

exploded as (

    select
        questions.attempt_id,
        questions.question_key,
        questions.base_exam_id,
        questions.question_id,
        questions.question_position,
        questions.is_test_record,
        questions.submitted_at,
        questions.partition_loaded_at,
        questions.kafka_date,
        posexplode(questions.answer_options) as (option_index, answer_option)
    from questions

),

final as (

    select
        -- ids
        attempt_id,
        question_key,
        base_exam_id,
        question_id,
        answer_option.id as option_id,

        -- numerics
        question_position,
        option_index + 1 as option_position,

        -- booleans: an absent key stays null (unknown), never false
        answer_option.checked as is_checked,
        answer_option.submitted = 1 as is_submitted,
        answer_option.correct as is_correct,
        is_test_record,

        -- timestamps and partition
        cast(answer_option.at as timestamp) as answered_at,
        submitted_at,
        partition_loaded_at,
        current_timestamp() as built_at,
        kafka_date

    from exploded

)

select * from final
