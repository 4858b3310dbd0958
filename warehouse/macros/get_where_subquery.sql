{#- dbt's hook for a data test's `where` config, extended with one placeholder:
    `__latest_build__` keeps the rows of the partitions that the latest dbt run wrote
    (built_at = the relation's newest built_at). After a full build that is every row;
    after an incremental run, only the partitions it rebuilt, which are the only rows
    that changed. Tests of the large incremental models use it, so an incremental
    build checks what it wrote instead of rescanning the whole table. -#}
{% macro get_where_subquery(relation) -%}
    {%- set where = config.get('where') -%}
    {%- if where -%}
        {%- if '__latest_build__' in where -%}
            {%- set latest -%}
                built_at = (select max(built_at) from {{ relation }})
            {%- endset -%}
            {%- set where = where | replace('__latest_build__', latest) -%}
        {%- endif -%}
        {%- set filtered -%}
            (select * from {{ relation }} where {{ where }}) dbt_subquery
        {%- endset -%}
        {%- do return(filtered) -%}
    {%- else -%}
        {%- do return(relation) -%}
    {%- endif -%}
{%- endmacro %}
