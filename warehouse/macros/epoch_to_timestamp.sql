{#- An epoch-seconds string ('1516717442.735266', 3-7 decimals) to a timestamp with
    microsecond precision (a double would round the last digits). -#}
{% macro epoch_to_timestamp(column) -%}
    timestamp_micros(cast(round(cast({{ column }} as decimal(24, 9)) * 1000000) as bigint))
{%- endmacro %}
