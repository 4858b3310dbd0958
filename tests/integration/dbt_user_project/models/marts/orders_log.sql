-- grain: one row per order, appended as its batch arrives
{{ config(materialized='incremental', incremental_strategy='append') }}

select
    order_id,
    customer_id,
    status,
    amount,
    ordered_at,
    batch
from {{ ref('stg_orders') }}
{% if is_incremental() %}
    where batch > (select coalesce(max(batch), 0) from {{ this }})
{% endif %}
