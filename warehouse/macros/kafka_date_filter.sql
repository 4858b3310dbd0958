{#- A filter on kafka_date holding, as literals, the dates in the first column of what
    `query` returns; `false` when it returns none. Literals let Spark prune every other
    partition before it reads a file, which a subquery does not guarantee. -#}
{% macro kafka_date_filter(query) -%}
    {%- set dates = run_query(query).columns[0].values() -%}
    {%- if dates | length == 0 -%}
        false
    {%- else -%}
        kafka_date in ({% for d in dates %}'{{ d }}'{{ ", " if not loop.last }}{% endfor %})
    {%- endif -%}
{%- endmacro %}
