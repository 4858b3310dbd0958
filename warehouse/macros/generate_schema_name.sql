{#- Layers land in schemas named after them (staging, marts), not '<target>_<layer>':
    clients query marts.<model> whatever target built it. -#}
{% macro generate_schema_name(custom_schema_name, node) -%}
    {%- if custom_schema_name is none -%}
        {{ target.schema }}
    {%- else -%}
        {{ custom_schema_name | trim }}
    {%- endif -%}
{%- endmacro %}
