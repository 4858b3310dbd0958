-- grain: one row per order date; a run rewrites only the dates its new orders fall on
{{ config(
    materialized='incremental',
    incremental_strategy='insert_overwrite',
    partition_by=['order_date'],
) }}

with

orders as (
    select * from {{ ref('stg_orders') }}
)

{% if is_incremental() %}
, changed_dates as (
    select distinct order_date
    from orders
    where batch > (select coalesce(max(last_batch), 0) from {{ this }})
)
{% endif %}

select
    count(*) as order_count,
    sum(amount) as revenue,
    max(batch) as last_batch,
    order_date
from orders
{% if is_incremental() %}
    where order_date in (select order_date from changed_dates)
{% endif %}
group by order_date
