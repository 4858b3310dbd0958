-- grain: as marts.dim_customer_exams
-- marts.dim_exams for each customer's exams alone, under the name clients
-- know: a view over the table computed at build time, so a customer's query reads
-- one table (customer_id first, then the mart's columns)
{{ config(alias='dim_exams') }}

with

customer_rows as (

    select * from {{ ref('dim_customer_exams') }}

),

final as (

    select * from customer_rows

)

select * from final
