-- grain: one row per exam (base_exam_id); test records excluded unless
-- var('include_test_records') is true
-- recomputed whole: popularity_rank ranks every exam against the others
{{ config(incremental_strategy='insert_overwrite') }}

with

attempts as (

    select * from {{ ref('stg_assessments__attempts') }}

),

filtered as (

    select * from attempts
    {{ test_records_filter() }}

),

aggregated as (

    select
        base_exam_id,
        max(exam_name) as exam_name,
        count(*) as distinct_attempts,
        sum(copies_in_raw) as attempt_rows,
        min(submitted_at) as first_attempt_at,
        max(submitted_at) as last_attempt_at
    from filtered
    group by base_exam_id

),

final as (

    select
        base_exam_id,
        exam_name,
        distinct_attempts,
        attempt_rows,
        dense_rank() over (order by distinct_attempts desc) as popularity_rank,
        first_attempt_at,
        last_attempt_at
    from aggregated

)

select * from final
