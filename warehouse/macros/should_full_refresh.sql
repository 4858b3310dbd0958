{#- dbt's should_full_refresh, plus one case: an incremental Iceberg model whose table
    is still of another format (a warehouse built before Iceberg, or with another
    EDTRACK_TABLE_FORMAT) is rebuilt in full once. Appending to it would keep writing
    the old format forever; dropping it and creating it as Iceberg converts it. -#}
{% macro should_full_refresh() %}
    {%- set full_refresh = config.get('full_refresh') -%}
    {%- if full_refresh is none -%}
        {%- set full_refresh = flags.FULL_REFRESH -%}
    {%- endif -%}
    {%- if not full_refresh and execute
        and config.get('materialized') == 'incremental'
        and config.get('file_format') == 'iceberg' -%}
        {%- set existing = load_cached_relation(this) -%}
        {%- if existing is not none and not existing.is_iceberg and not existing.is_view -%}
            {{ log(existing ~ " is not an Iceberg table yet: building it in full once, as Iceberg", info=true) }}
            {%- set full_refresh = true -%}
        {%- endif -%}
    {%- endif -%}
    {% do return(full_refresh) %}
{% endmacro %}
