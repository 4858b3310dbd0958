-- grain: one row per customer
select
    customer_id,
    first_name,
    signed_up_on
from {{ ref('raw_customers') }}
