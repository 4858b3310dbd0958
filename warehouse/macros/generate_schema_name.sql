{#- Layers land in schemas named after them (staging, marts), not '<target>_<layer>':
    clients query marts.<model> whatever target built it. The var schema_prefix (empty
    by default) goes before every name, for builds that must not touch these schemas. -#}
{% macro generate_schema_name(custom_schema_name, node) -%}
    {%- if custom_schema_name is none -%}
        {{ var('schema_prefix') }}{{ target.schema }}
    {%- else -%}
        {{ var('schema_prefix') }}{{ custom_schema_name | trim }}
    {%- endif -%}
{%- endmacro %}
