-- grain: one row per raw message whose payload does not fit the attempt schema
-- Incremental like stg_assessments__attempts, and over the same partitions: it runs
-- just before that model (which declares the dependency) and rebuilds the partitions
-- that model is about to rebuild, read from that model's partition_loaded_at. Looking
-- the table up in the graph rather than with ref() keeps the order the right way round.
{{ config(
    materialized='incremental',
    incremental_strategy='insert_overwrite',
    partition_by=['kafka_date'],
) }}

{%- set attempts_node = graph.nodes['model.edtrack.stg_assessments__attempts'] -%}
{%- set attempts = adapter.get_relation(
    database=none, schema=attempts_node.schema, identifier=attempts_node.alias
) if execute else none -%}

with

source as (

    select * from {{ source('assessments', 'assessment_attempts') }}
    {% if is_incremental() and attempts is not none %}
    where
        {{ changed_partitions(
            source('assessments', 'assessment_attempts'),
            '_metadata.file_modification_time',
            compare_with=attempts
        ) }}
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
            when attempt is null
                then 'payload does not fit the attempt schema (a field has the wrong type)'
            else 'keen_id is null after parsing'
        end as error,
        kafka_date
    from parsed
    where attempt is null or attempt.keen_id is null

)

select * from failed
