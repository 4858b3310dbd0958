{#- A filter on kafka_date keeping the partitions the latest dbt run of `relation`
    wrote: those whose rows carry the relation's newest built_at (every partition
    after a full build; `false` when the relation is empty). An incremental model
    rewrites whole partitions with one statement, so its built_at is one value per
    run, and the partitions holding it are exactly what that run wrote.

    The dates come back as literals, found when the test runs, so Spark prunes every
    other partition before reading a file: a filter on built_at itself cannot skip
    anything (Spark writes timestamps as INT96, which has no parquet statistics), and
    made tests on the largest tables scan them whole. Finding the dates reads the
    built_at column alone, once. `true` when the relation does not exist yet. -#}
{% macro latest_build(relation) -%}
    {%- if not execute -%}
        {{- return('true') -}}
    {%- endif -%}
    {%- if adapter.get_relation(
        database=relation.database, schema=relation.schema, identifier=relation.identifier
    ) is none -%}
        {#- Not built yet (a compile or lint before the first run): nothing to ask. -#}
        {{- return('true') -}}
    {%- endif -%}
    {%- set query -%}
        select kafka_date
        from (
            select
                cast(kafka_date as string) as kafka_date,
                max(built_at) as built_at,
                max(max(built_at)) over () as newest_built_at
            from {{ relation }}
            group by kafka_date
        ) as partitions
        where built_at = newest_built_at
        order by kafka_date
    {%- endset -%}
    {{- kafka_date_filter(query) -}}
{%- endmacro %}
