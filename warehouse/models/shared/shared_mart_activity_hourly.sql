-- grain: one row per customer (customer_id) and hour of the day (0-23, UTC); every
-- customer of the seed customers has its 24 hours, 0 where none of its exams' attempts
-- fall; mart_activity_hourly over each customer's exams alone
-- recomputed whole: ownership (the seed exam_owners) may change between runs
{{ config(alias='mart_activity_hourly') }}

with

attempts as (

    select * from {{ ref('stg_assessments__attempts') }}
    {{ test_records_filter() }}

),

exam_owners as (

    select * from {{ ref('exam_owners') }}

),

customers as (

    select * from {{ ref('customers') }}

),

hours as (

    select explode(sequence(0, 23)) as hour_of_day_utc

),

customer_hours as (

    select
        customers.customer_id,
        hours.hour_of_day_utc
    from customers
    cross join hours

),

counted as (

    select
        exam_owners.customer_id,
        hour(attempts.submitted_at) as hour_of_day_utc,
        count(*) as distinct_attempts,
        sum(attempts.copies_in_raw) as attempt_rows
    from attempts
    inner join exam_owners
        on attempts.base_exam_id = exam_owners.base_exam_id
    group by exam_owners.customer_id, hour(attempts.submitted_at)

),

final as (

    select
        customer_hours.customer_id,
        customer_hours.hour_of_day_utc,
        coalesce(counted.distinct_attempts, 0) as distinct_attempts,
        coalesce(counted.attempt_rows, 0) as attempt_rows
    from customer_hours
    left join counted
        on
            customer_hours.customer_id = counted.customer_id
            and customer_hours.hour_of_day_utc = counted.hour_of_day_utc

)

select * from final
