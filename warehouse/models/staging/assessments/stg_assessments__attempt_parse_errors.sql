-- grain: one row per raw message whose payload does not fit the attempt schema
-- Incremental like stg_assessments__attempts, and over the same partitions: it runs
-- just before that model (which declares the dependency) and rebuilds the partitions
-- that model is about to rebuild (unstaged_partitions).
with

source as (

    select * from {{ source('assessments', 'assessment_attempts') }}
    {% if is_incremental() %}
    where {{ unstaged_partitions(source('assessments', 'assessment_attempts')) }}
    {% endif %}

),

parsed as (

    select
        *,
        {{ parse_attempt('payload') }} as attempt
    from source

),

failed as (

    select
        kafka_topic,
        kafka_partition,
        kafka_offset,
        kafka_timestamp,
        kafka_key,
        ingested_at,
        payload,
        case
            when attempt._corrupt_record is null
                then 'keen_id is null after parsing'
            when attempt.keen_id is null
                then 'payload could not be parsed (e.g. nested deeper than Spark allows)'
            else 'payload does not fit the attempt schema (a field has the wrong type)'
        end as error,
        kafka_date
    from parsed
    -- a null attempt (an empty payload) has a null keen_id too
    where attempt.keen_id is null or attempt._corrupt_record is not null

)

select * from failed
