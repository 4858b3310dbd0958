-- grain: one row per order of the batches that have arrived (var batch)
select
    order_id,
    customer_id,
    lower(status) as status,
    cast(amount as decimal(12, 2)) as amount,
    ordered_at,
    cast(ordered_at as date) as order_date,
    batch
from {{ ref('raw_orders') }}
where batch <= {{ var('batch') }}
