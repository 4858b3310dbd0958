{#- dbt's hook for a data test's `where` config, extended with two placeholders that
    keep a test on the rows that can have changed, so an incremental build checks what
    it reads and writes instead of rescanning whole tables:
    - `__latest_build__`: the rows of the partitions the latest dbt run wrote, as a
      literal list of kafka_date values (latest_build); every row after a full build.
    - `__unstaged_partitions__` (raw source tables): the partitions whose files changed
      since stg_assessments__attempts last built them, i.e. what the next run of staging
      reads; every partition before staging first exists.
    `--vars '{test_everything: true}'` turns both off: every row is tested. -#}
{% macro get_where_subquery(relation) -%}
    {%- set where = config.get('where') -%}
    {%- if where -%}
        {%- if var('test_everything', false) -%}
            {%- set where = where | replace('__latest_build__', 'true')
                | replace('__unstaged_partitions__', 'true') -%}
        {%- endif -%}
        {%- if '__latest_build__' in where -%}
            {%- set where = where | replace('__latest_build__', latest_build(relation)) -%}
        {%- endif -%}
        {%- if '__unstaged_partitions__' in where -%}
            {%- set where = where | replace('__unstaged_partitions__', unstaged_partitions(relation)) -%}
        {%- endif -%}
        {%- set filtered -%}
            (select * from {{ relation }} where {{ where }}) dbt_subquery
        {%- endset -%}
        {%- do return(filtered) -%}
    {%- else -%}
        {%- do return(relation) -%}
    {%- endif -%}
{%- endmacro %}
