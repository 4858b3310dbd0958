-- grain: as marts.dim_customer_exam_names
-- marts.dim_exam_names for each customer's exams alone, under the name clients
-- know: a view over the table computed at build time, so a customer's query reads
-- one table (customer_id first, then the mart's columns)
{{ config(alias='dim_exam_names') }}

with

customer_rows as (

    select * from {{ ref('dim_customer_exam_names') }}

),

final as (

    select * from customer_rows

)

select * from final
