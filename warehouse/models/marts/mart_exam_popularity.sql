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

exams as (

    select * from {{ ref('dim_exams') }}

),

aggregated as (

    select
        base_exam_id,
        count(*) as distinct_attempts,
        sum(copies_in_raw) as attempt_rows,
        min(submitted_at) as first_attempt_at,
        max(submitted_at) as last_attempt_at
    from filtered
    group by base_exam_id

),

final as (

    select
        aggregated.base_exam_id,
        -- an exam's name is decided once, in dim_exams
        exams.exam_name,
        aggregated.distinct_attempts,
        aggregated.attempt_rows,
        dense_rank() over (order by aggregated.distinct_attempts desc) as popularity_rank,
        aggregated.first_attempt_at,
        aggregated.last_attempt_at
    from aggregated
    left join exams
        on aggregated.base_exam_id = exams.base_exam_id

)

select * from final
