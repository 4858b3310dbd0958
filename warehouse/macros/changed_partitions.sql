{#- The kafka_date partitions of `upstream` that changed since this model last built
    them: partitions it has never built, and partitions whose newest load time is
    later than the one recorded when they were built. An incremental model rebuilds
    exactly these (insert_overwrite), so a rerun with no new data rebuilds nothing and
    a late-arriving attempt rebuilds only its own day.

    Returns a filter on kafka_date with the dates as literals, found when the model
    runs: literals let Spark prune partitions before it reads a file, which a subquery
    does not guarantee. `loaded_at` is the upstream rows' load time; without it the
    load time of a partition is the modification time of its newest file, read from
    the file listing alone (partition_file_times), never from the files' contents.
    `compare_with` (default: this model) is the relation whose partition_loaded_at
    records what was built. -#}
{% macro changed_partitions(upstream, loaded_at=none, compare_with=none) -%}
    {%- if not execute -%}
        {{- return('false') -}}
    {%- endif -%}
    {%- set built = compare_with if compare_with is not none else this -%}
    {%- set query -%}
        select upstream_partitions.kafka_date
        from (
            {% if loaded_at is none -%}
            {{ partition_file_times(upstream) }}
            {%- else -%}
            select
                cast(kafka_date as string) as kafka_date,
                max({{ loaded_at }}) as loaded_at
            from {{ upstream }}
            group by kafka_date
            {%- endif %}
        ) as upstream_partitions
        left join (
            select
                cast(kafka_date as string) as kafka_date,
                max(partition_loaded_at) as loaded_at
            from {{ built }}
            group by kafka_date
        ) as built_partitions
            on upstream_partitions.kafka_date = built_partitions.kafka_date
        where
            built_partitions.loaded_at is null
            or upstream_partitions.loaded_at > built_partitions.loaded_at
        order by upstream_partitions.kafka_date
    {%- endset -%}
    {{- kafka_date_filter(query) -}}
{%- endmacro %}


{#- A query giving, per kafka_date partition of a file-based table (the lander's raw
    tables), the modification time of its newest file: the same value as
    max(_metadata.file_modification_time) over the partition's rows, taken from a
    listing of the table's folder (Spark's binaryFile source reads no content unless
    asked for it), so its cost does not grow with the data. `location`: the table's
    folder, when the caller has it already. -#}
{% macro partition_file_times(relation, location=none) -%}
    {%- set location = location or table_details(relation)['Location'] -%}
    select
        cast(kafka_date as string) as kafka_date,
        max(modificationTime) as loaded_at
    from binaryFile.`{{ location }}`
    group by kafka_date
{%- endmacro %}
