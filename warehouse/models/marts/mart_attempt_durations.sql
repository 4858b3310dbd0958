-- grain: one row per exam (base_exam_id); duration = submitted_at - started_at of each
-- distinct attempt where both are known and the difference is not negative
{{ config(unique_key='base_exam_id') }}

with

attempts as (

    select * from {{
        rows_of_changed_keys(
            ref('stg_assessments__attempts'), 'base_exam_id', is_incremental()
        )
    }}
    {{ test_records_filter() }}

),

durations as (

    select
        base_exam_id,
        (unix_micros(submitted_at) - unix_micros(started_at)) / 1e6 as duration_seconds
    from attempts
    where started_at is not null and submitted_at >= started_at

),

final as (

    select
        durations.base_exam_id,
        exams.exam_name,
        count(*) as timed_attempts,
        avg(durations.duration_seconds) as mean_duration_seconds,
        percentile(durations.duration_seconds, 0.5) as median_duration_seconds,
        percentile(durations.duration_seconds, 0.9) as p90_duration_seconds,
        max(durations.duration_seconds) as max_duration_seconds,
        current_timestamp() as built_at
    from durations
    inner join {{ ref('dim_exams') }} as exams
        on durations.base_exam_id = exams.base_exam_id
    group by durations.base_exam_id, exams.exam_name

)

select * from final
