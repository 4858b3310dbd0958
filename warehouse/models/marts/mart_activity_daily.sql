-- grain: one row per UTC calendar day with at least one attempt
{{ config(unique_key='activity_date') }}

with

attempts as (

    select * from {{
        rows_of_changed_keys(
            ref('stg_assessments__attempts'), 'to_date(submitted_at)', is_incremental()
        )
    }}
    {{ test_records_filter() }}

),

final as (

    select
        to_date(submitted_at) as activity_date,
        count(*) as distinct_attempts,
        sum(copies_in_raw) as attempt_rows,
        count(distinct base_exam_id) as exams_taken,
        current_timestamp() as built_at
    from attempts
    group by to_date(submitted_at)

)

select * from final
