-- grain: as marts.mart_customer_option_choices
-- marts.mart_option_choices for each customer's exams alone, under the name clients
-- know: a view over the table computed at build time, so a customer's query reads
-- one table (customer_id first, then the mart's columns)
{{ config(alias='mart_option_choices') }}

with

customer_rows as (

    select * from {{ ref('mart_customer_option_choices') }}

),

final as (

    select * from customer_rows

)

select * from final
