-- grain: one row per raw message whose payload does not fit the attempt schema

with

source as (

    select * from {{ source('assessments', 'assessment_attempts') }}

),

parsed as (

    select
        kafka_topic,
        kafka_partition,
        kafka_offset,
        kafka_timestamp,
        kafka_key,
        ingested_at,
        payload,
        kafka_date,
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
            when attempt is null
                then 'payload does not fit the attempt schema (a field has the wrong type)'
            else 'keen_id is null after parsing'
        end as error,
        kafka_date
    from parsed
    where attempt is null or attempt.keen_id is null

)

select * from failed
