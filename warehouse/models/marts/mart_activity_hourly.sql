-- grain: one row per hour of the day (0-23, UTC); hours without attempts show 0
-- recomputed whole: 24 rows, and nearly every run touches most hours
{{ config(incremental_strategy='insert_overwrite') }}

with

attempts as (

    select * from {{ ref('stg_assessments__attempts') }}
    {{ test_records_filter() }}

),

hours as (

    select explode(sequence(0, 23)) as hour_of_day_utc

),

counted as (

    select
        hour(submitted_at) as hour_of_day_utc,
        count(*) as distinct_attempts,
        sum(copies_in_raw) as attempt_rows
    from attempts
    group by hour(submitted_at)

),

final as (

    select
        hours.hour_of_day_utc,
        coalesce(counted.distinct_attempts, 0) as distinct_attempts,
        coalesce(counted.attempt_rows, 0) as attempt_rows
    from hours
    left join counted
        on hours.hour_of_day_utc = counted.hour_of_day_utc

)

select * from final
