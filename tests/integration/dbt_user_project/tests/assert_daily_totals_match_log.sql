-- The daily table counts every order of the log once, with the same revenue.
with

daily as (
    select sum(order_count) as daily_orders, sum(revenue) as daily_revenue
    from {{ ref('orders_daily') }}
),

logged as (
    select count(*) as logged_orders, sum(amount) as logged_revenue
    from {{ ref('orders_log') }}
)

select *
from daily
cross join logged
where daily_orders != logged_orders or daily_revenue != logged_revenue
