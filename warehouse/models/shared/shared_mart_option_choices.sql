-- grain: one row per answer option (question_key, option_id) of an owned exam, as
-- marts.mart_option_choices
-- counts are per option, so the mart's rows of a customer's exams are what the mart
-- would hold over that customer's exams alone: the mart's columns as they are (so this
-- table follows the mart), behind the owner's customer_id
-- recomputed whole: ownership (the seed exam_owners) may change between runs
{{ config(alias='mart_option_choices') }}

with

options as (

    select * from {{ ref('mart_option_choices') }}

),

exam_owners as (

    select * from {{ ref('exam_owners') }}

),

final as (

    select
        exam_owners.customer_id,
        options.*
    from options
    inner join exam_owners
        on options.base_exam_id = exam_owners.base_exam_id

)

select * from final
