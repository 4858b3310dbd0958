{#- The kafka_date partitions of `upstream` that changed since this model last built
    them: partitions it has never built, and partitions whose newest load time is
    later than the one recorded when they were built. An incremental model rebuilds
    exactly these (insert_overwrite), so a rerun with no new data rebuilds nothing and
    a late-arriving attempt rebuilds only its own day.

    Returns a filter on kafka_date with the dates as literals, found when the model
    runs: literals let Spark prune partitions before it reads a file, which a subquery
    does not guarantee. `compare_with` (default: this model) is the relation whose
    partition_loaded_at records what was built. -#}
{% macro changed_partitions(upstream, loaded_at, compare_with=none) -%}
    {%- set built = compare_with if compare_with is not none else this -%}
    {%- set query -%}
        select cast(upstream_partitions.kafka_date as string) as kafka_date
        from (
            select
                kafka_date,
                max({{ loaded_at }}) as loaded_at
            from {{ upstream }}
            group by kafka_date
        ) as upstream_partitions
        left join (
            select
                kafka_date,
                max(partition_loaded_at) as loaded_at
            from {{ built }}
            group by kafka_date
        ) as built_partitions
            on upstream_partitions.kafka_date = built_partitions.kafka_date
        where
            built_partitions.loaded_at is null
            or upstream_partitions.loaded_at > built_partitions.loaded_at
        order by kafka_date
    {%- endset -%}
    {%- if execute -%}
        {%- set dates = run_query(query).columns[0].values() -%}
    {%- else -%}
        {%- set dates = [] -%}
    {%- endif -%}
    {%- if dates | length == 0 -%}
        false
    {%- else -%}
        kafka_date in ({% for d in dates %}'{{ d }}'{{ ", " if not loop.last }}{% endfor %})
    {%- endif -%}
{%- endmacro %}
