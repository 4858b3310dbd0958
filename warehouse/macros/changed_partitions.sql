{#- The kafka_date partitions of `upstream` that changed since this model last built
    them: partitions it has never built, and partitions whose newest load time is
    later than the one recorded when they were built. An incremental model rebuilds
    exactly these (insert_overwrite), so a rerun with no new data rebuilds nothing and
    a late-arriving attempt rebuilds only its own day. -#}
{% macro changed_partitions(upstream, loaded_at) -%}
    select upstream_partitions.kafka_date
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
        from {{ this }}
        group by kafka_date
    ) as built_partitions
        on upstream_partitions.kafka_date = built_partitions.kafka_date
    where
        built_partitions.loaded_at is null
        or upstream_partitions.loaded_at > built_partitions.loaded_at
{%- endmacro %}
