{#- dbt-spark's drop, except where it would drop an Iceberg model only to create it
    again: an incremental model built with --full-refresh (or a table model) whose
    table is already Iceberg. dbt-spark skips that drop for Delta only; for Iceberg the
    `create or replace table` that follows replaces the table in one commit, so
    readers keep the previous snapshot until then instead of finding no table, and
    the table's history stays for time travel. -#}
{% macro spark__drop_relation(relation) -%}
    {%- set replaced_next = (
        relation.is_iceberg
        and model is defined and model.get('resource_type') == 'model'
        and config.get('materialized') in ('incremental', 'table')
        and config.get('file_format') == 'iceberg'
        and relation.schema == this.schema and relation.identifier == this.identifier
    ) -%}
    {%- if not replaced_next -%}
        {% call statement('drop_relation', auto_begin=False) -%}
            drop {{ relation.type }} if exists {{ relation }}
        {%- endcall %}
    {%- endif -%}
{% endmacro %}
