{#- A filter on kafka_date keeping the partitions the latest dbt run of `relation`
    wrote: every partition after a full build; `false` when the relation is empty;
    `true` when it does not exist yet.

    Found from the file listing, not from the rows. An incremental model rewrites
    whole partitions with one statement whose built_at (current_timestamp) is fixed
    before any file is written, so the partitions that run wrote are those whose
    newest file is younger than its built_at. That value is read from one partition
    only: the one with the newest file, which the latest run wrote; reading it from
    every row would scan the whole column.

    The listing's times are the file system's clock and built_at is Spark's: the
    var latest_build_margin_s (30 s) allows for a difference between the two. Any
    partition a run finishing within the margin before the latest one wrote is
    tested too: a superset, never a partition left out.

    The dates come back as literals, so Spark prunes every other partition before
    reading a file. -#}
{% macro latest_build(relation) -%}
    {%- if not execute -%}
        {{- return('true') -}}
    {%- endif -%}
    {%- set cached = adapter.get_relation(
        database=relation.database, schema=relation.schema, identifier=relation.identifier
    ) -%}
    {%- if cached is none -%}
        {#- Not built yet (a compile or lint before the first run): nothing to ask. -#}
        {{- return('true') -}}
    {%- endif -%}
    {#- The table's format without a `describe` where dbt knows it: from the listing at the
        start of the invocation, else (built by this invocation) from its model's config. -#}
    {%- set models = graph.nodes.values() | selectattr('resource_type', 'equalto', 'model')
        | selectattr('schema', 'equalto', relation.schema)
        | selectattr('alias', 'equalto', relation.identifier) | list -%}
    {%- set details = {} -%}
    {%- if cached.is_iceberg is not none -%}
        {%- set file_format = 'iceberg' if cached.is_iceberg else none -%}
    {%- elif models -%}
        {%- set file_format = models[0].config.file_format -%}
    {%- else -%}
        {%- set details = table_details(relation) -%}
        {%- set file_format = details.get('Provider') -%}
    {%- endif -%}
    {%- if file_format == 'iceberg' -%}
        {#- Iceberg records, per partition, the commit that last changed it. -#}
        {%- set query -%}
            select cast(partition.kafka_date as string) as kafka_date
            from {{ relation }}.partitions
            where last_updated_at = (select max(last_updated_at) from {{ relation }}.partitions)
            order by kafka_date
        {%- endset -%}
        {{- return(kafka_date_filter(query)) -}}
    {%- endif -%}
    {%- set details = details or table_details(relation) -%}
    {%- set partitions = partition_file_times(relation, details['Location']) -%}
    {%- set newest_query -%}
        select kafka_date from ({{ partitions }}) as partitions
        order by loaded_at desc
        limit 1
    {%- endset -%}
    {%- set newest = run_query(newest_query).columns[0].values() -%}
    {%- if newest | length == 0 -%}
        {{- return('false') -}}
    {%- endif -%}
    {%- set query -%}
        select kafka_date
        from ({{ partitions }}) as partitions
        where loaded_at >= (
            select max(built_at) - interval {{ var('latest_build_margin_s') | int }} seconds
            from {{ relation }}
            where kafka_date = '{{ newest[0] }}'
        )
        order by kafka_date
    {%- endset -%}
    {{- kafka_date_filter(query) -}}
{%- endmacro %}
