-- grain: one row per attempt (distinct keen_id); the earliest Kafka offset wins.
-- Exact duplicates share their keen_timestamp, hence their Kafka timestamp and kafka_date
-- partition, so deduplicating within a partition deduplicates the whole table.
-- depends_on: {{ ref('stg_assessments__attempt_parse_errors') }}
with

source as (

    select
        *,
        _metadata.file_modification_time as file_loaded_at
    from {{ source('assessments', 'assessment_attempts') }}
    {% if is_incremental() %}
    where
        {{ changed_partitions(source('assessments', 'assessment_attempts')) }}
    {% endif %}

),

parsed as (

    select
        kafka_topic,
        kafka_partition,
        kafka_offset,
        kafka_timestamp,
        kafka_date,
        ingested_at,
        max(file_loaded_at) over (partition by kafka_date) as partition_loaded_at,
        {{ parse_attempt('payload') }} as attempt
    from source

),

ranked as (

    select
        *,
        row_number() over (
            partition by attempt.keen_id
            order by kafka_timestamp, kafka_partition, kafka_offset
        ) as copy_number,
        count(*) over (partition by attempt.keen_id) as copies_in_raw
    from parsed
    -- the others are in stg_assessments__attempt_parse_errors
    where attempt.keen_id is not null and attempt._corrupt_record is null

),

renamed as (

    select
        -- ids
        attempt.keen_id as attempt_id,
        attempt.user_exam_id,
        attempt.base_exam_id,
        attempt.sequences.id as sequence_id,

        -- strings
        attempt.exam_name,

        -- numerics
        cast(attempt.max_attempts as double) as max_attempts,
        attempt.sequences.attempt as attempt_number,
        -- size() of a null array is -1 in Spark: without questions the count is unknown
        case
            when attempt.sequences.questions is not null
                then size(attempt.sequences.questions)
        end as question_count,
        attempt.sequences.counts.total as counts_total,
        attempt.sequences.counts.correct as counts_correct,
        attempt.sequences.counts.incorrect as counts_incorrect,
        attempt.sequences.counts.incomplete as counts_incomplete,
        attempt.sequences.counts.submitted as counts_submitted,
        attempt.sequences.counts.unanswered as counts_unanswered,
        copies_in_raw,

        -- booleans
        case lower(attempt.certification)
            when 'true' then true
            when 'false' then false
        end as is_certification,
        attempt.sequences.counts.all_correct as counts_all_correct,
        attempt.sequences.counts is not null as has_counts,
        attempt.base_exam_id = '{{ var("test_exam_id") }}' as is_test_record,

        -- timestamps
        {{ epoch_to_timestamp('attempt.keen_timestamp') }} as submitted_at,
        {{ epoch_to_timestamp('attempt.keen_created_at') }} as created_at,
        cast(attempt.started_at as timestamp) as started_at,

        -- nested, flattened downstream
        attempt.sequences.questions,

        -- loader metadata
        kafka_topic,
        kafka_partition,
        kafka_offset,
        kafka_timestamp,
        ingested_at,
        partition_loaded_at,
        current_timestamp() as built_at,
        kafka_date

    from ranked
    where copy_number = 1

)

select * from renamed
