{#- A mart's rows of owned exams, behind their owner's customer_id (the seed exam_owners):
    for a mart whose every column is computed within one exam (or its questions or
    options), what the mart would hold over each customer's exams alone. -#}
{% macro rows_of_owned_exams(mart) -%}
with

mart as (

    select * from {{ mart }}

),

exam_owners as (

    select * from {{ ref('exam_owners') }}

),

final as (

    select
        exam_owners.customer_id,
        mart.*
    from mart
    inner join exam_owners
        on mart.base_exam_id = exam_owners.base_exam_id

)

select * from final
{%- endmacro %}
