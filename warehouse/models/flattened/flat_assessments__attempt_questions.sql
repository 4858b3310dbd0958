-- grain: one row per attempt x question (attempt_id, question_position)
with

attempts as (

    select * from {{ ref('stg_assessments__attempts') }}
    {% if is_incremental() %}
    where
        {{ changed_partitions(ref('stg_assessments__attempts'), 'partition_loaded_at') }}
    {% endif %}

),

exploded as (

    select
        attempts.attempt_id,
        attempts.base_exam_id,
        attempts.is_test_record,
        attempts.submitted_at,
        attempts.partition_loaded_at,
        attempts.kafka_date,
        posexplode(attempts.questions) as (question_index, question)
    from attempts

),

final as (

    select
        -- ids
        attempt_id,
        concat_ws(':', base_exam_id, question.id) as question_key,
        base_exam_id,
        question.id as question_id,

        -- numerics
        question_index + 1 as question_position,
        size(question.options) as option_count,

        -- strings
        question.user_result,

        -- booleans
        question.user_incomplete,
        question.user_correct,
        question.user_submitted,
        is_test_record,

        -- nested, flattened to options downstream
        question.options as answer_options,

        -- timestamps and partition
        submitted_at,
        partition_loaded_at,
        current_timestamp() as built_at,
        kafka_date

    from exploded

)

select * from final
