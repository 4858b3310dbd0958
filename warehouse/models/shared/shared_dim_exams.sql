-- grain: one row per owned exam (base_exam_id), as marts.dim_exams
-- is_name_shared and exams_with_same_name count only the same customer's exams (a
-- window partitioned by customer_id): over that customer's exams alone, a name is
-- shared only with its own exams, and nothing tells a customer that a competitor's
-- exam carries one of its names; the other columns are per exam, as in the mart
-- recomputed whole: ownership (the seed exam_owners) may change between runs
{{ config(alias='dim_exams') }}

with

dim_exams as (

    select * from {{ ref('dim_exams') }}

),

exam_owners as (

    select * from {{ ref('exam_owners') }}

),

owned as (

    select
        exam_owners.customer_id,
        dim_exams.base_exam_id,
        dim_exams.exam_name,
        dim_exams.question_count,
        dim_exams.distinct_attempts,
        dim_exams.is_test_exam,
        dim_exams.first_attempt_at,
        dim_exams.last_attempt_at,
        -- as dim_exams: exams without a name match no other (null, not a count)
        case
            when dim_exams.exam_name is not null
                then count(*) over (partition by exam_owners.customer_id, dim_exams.exam_name)
        end as exams_with_same_name
    from dim_exams
    inner join exam_owners
        on dim_exams.base_exam_id = exam_owners.base_exam_id

),

final as (

    select
        customer_id,
        base_exam_id,
        exam_name,
        exams_with_same_name > 1 as is_name_shared,
        exams_with_same_name,
        question_count,
        distinct_attempts,
        is_test_exam,
        first_attempt_at,
        last_attempt_at
    from owned

)

select * from final
