-- grain: one row per UTC calendar day with at least one attempt
-- recomputed whole: attempts without a submitted_at share one row without a date, and
-- a merge on the date could never match that row again
{{ config(incremental_strategy='insert_overwrite') }}

with

attempts as (

    select * from {{ ref('stg_assessments__attempts') }}
    {{ test_records_filter() }}

),

final as (

    select
        to_date(submitted_at) as activity_date,
        count(*) as distinct_attempts,
        sum(copies_in_raw) as attempt_rows,
        count(distinct base_exam_id) as exams_taken
    from attempts
    group by to_date(submitted_at)

)

select * from final
