-- grain: one row per exam (base_exam_id)
-- recomputed whole: exams_with_same_name counts other exams' rows
{{ config(incremental_strategy='insert_overwrite') }}

with

attempts as (

    select * from {{ ref('stg_assessments__attempts') }}
    {{ test_records_filter() }}

),

questions as (

    select * from {{ ref('flat_assessments__attempt_questions') }}

),

exams as (

    select
        base_exam_id,
        -- the latest named attempt's name, ties broken by attempt_id as in dim_exam_names
        max_by(
            exam_name,
            case when exam_name is not null then struct(submitted_at, attempt_id) end
        ) as exam_name,
        count(distinct exam_name) as names_used,
        count(*) as distinct_attempts,
        min(submitted_at) as first_attempt_at,
        max(submitted_at) as last_attempt_at,
        bool_or(is_test_record) as is_test_exam
    from attempts
    group by base_exam_id

),

question_counts as (

    select
        base_exam_id,
        count(distinct question_id) as question_count
    from questions
    group by base_exam_id

),

shared_names as (

    select
        exam_name,
        count(*) as exams_with_name
    from exams
    group by exam_name

),

final as (

    select
        exams.base_exam_id,
        exams.exam_name,
        shared_names.exams_with_name > 1 as is_name_shared,
        shared_names.exams_with_name as exams_with_same_name,
        coalesce(question_counts.question_count, 0) as question_count,
        exams.distinct_attempts,
        exams.is_test_exam,
        exams.first_attempt_at,
        exams.last_attempt_at
    from exams
    left join question_counts
        on exams.base_exam_id = question_counts.base_exam_id
    left join shared_names
        on exams.exam_name = shared_names.exam_name

)

select * from final
