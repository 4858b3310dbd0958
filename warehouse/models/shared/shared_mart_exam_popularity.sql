-- grain: one row per owned exam (base_exam_id), as marts.mart_exam_popularity
-- popularity_rank ranks the exam among the same customer's exams only (a window
-- partitioned by customer_id), as the mart would over that customer's exams alone; the
-- other columns are per exam, as in the mart
-- recomputed whole: ownership (the seed exam_owners) may change between runs
{{ config(alias='mart_exam_popularity') }}

with

popularity as (

    select * from {{ ref('mart_exam_popularity') }}

),

exam_owners as (

    select * from {{ ref('exam_owners') }}

),

final as (

    select
        exam_owners.customer_id,
        popularity.base_exam_id,
        popularity.exam_name,
        popularity.distinct_attempts,
        popularity.attempt_rows,
        dense_rank() over (
            partition by exam_owners.customer_id order by popularity.distinct_attempts desc
        ) as popularity_rank,
        popularity.first_attempt_at,
        popularity.last_attempt_at
    from popularity
    inner join exam_owners
        on popularity.base_exam_id = exam_owners.base_exam_id

)

select * from final
