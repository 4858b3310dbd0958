-- grain: as marts.mart_customer_exam_popularity
-- marts.mart_exam_popularity for each customer's exams alone, under the name clients
-- know: a view over the table computed at build time, so a customer's query reads
-- one table (customer_id first, then the mart's columns)
{{ config(alias='mart_exam_popularity') }}

with

customer_rows as (

    select * from {{ ref('mart_customer_exam_popularity') }}

),

final as (

    select * from customer_rows

)

select * from final
