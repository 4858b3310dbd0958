-- grain: one row per customer
with

customers as (
    select * from {{ ref('stg_customers') }}
),

orders as (
    select * from {{ ref('stg_orders') }}
),

per_customer as (
    select
        customer_id,
        count(*) as order_count,
        sum(case when status = 'returned' then 1 else 0 end) as returned_count,
        sum(case when status = 'returned' then 0 else amount end) as net_revenue
    from orders
    group by customer_id
),

final as (
    select
        customers.customer_id,
        customers.first_name,
        coalesce(per_customer.order_count, 0) as order_count,
        coalesce(per_customer.returned_count, 0) as returned_count,
        cast(coalesce(per_customer.net_revenue, 0) as decimal(14, 2)) as net_revenue
    from customers
    left join per_customer on customers.customer_id = per_customer.customer_id
)

select * from final
