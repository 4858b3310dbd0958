-- grain: one row per exam and span of attempts under one name (base_exam_id, span_number)
-- a slowly changing dimension (type 2) dated by the attempts themselves, so the export's
-- history is kept from the first build (a dbt snapshot would date changes by builds)
-- attempts without a name or a submission time belong to no span
-- recomputed whole: a late attempt can split or move a span
{{ config(incremental_strategy='insert_overwrite') }}

with

attempts as (

    select * from {{ ref('stg_assessments__attempts') }}
    {{ test_records_filter() }}

),

submitted as (

    select
        attempt_id,
        base_exam_id,
        exam_name,
        submitted_at
    from attempts
    where
        submitted_at is not null
        and exam_name is not null

),

flagged as (

    select
        *,
        case
            when exam_name = lag(exam_name) over (
                partition by base_exam_id order by submitted_at, attempt_id
            ) then 0
            else 1
        end as starts_span
    from submitted

),

numbered as (

    select
        *,
        sum(starts_span) over (
            partition by base_exam_id
            order by submitted_at, attempt_id
            rows between unbounded preceding and current row
        ) as span_number
    from flagged

),

spans as (

    select
        base_exam_id,
        span_number,
        max(exam_name) as exam_name,
        min(submitted_at) as valid_from,
        max(submitted_at) as last_attempt_at,
        count(*) as span_attempts
    from numbered
    group by base_exam_id, span_number

),

final as (

    select
        base_exam_id,
        span_number,
        exam_name,
        valid_from,
        lead(valid_from) over (
            partition by base_exam_id order by span_number
        ) as valid_to,
        span_number = max(span_number) over (partition by base_exam_id) as is_current,
        last_attempt_at,
        span_attempts
    from spans

)

select * from final
