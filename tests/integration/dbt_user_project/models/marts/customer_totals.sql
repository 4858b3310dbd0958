-- grain: one row per customer with orders; a run rewrites only the rows of customers
-- with new orders (merge on customer_id, which needs a table format with row updates)
{{ config(
    materialized='incremental',
    incremental_strategy='merge',
    unique_key='customer_id',
    file_format='iceberg',
) }}

with

orders as (
    select * from {{ ref('stg_orders') }}
)

select
    customer_id,
    count(*) as order_count,
    sum(amount) as total_amount,
    max(batch) as last_batch
from orders
{% if is_incremental() %}
    where customer_id in (
        select customer_id
        from orders
        where batch > (select coalesce(max(last_batch), 0) from {{ this }})
    )
{% endif %}
group by customer_id
