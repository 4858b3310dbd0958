{#- Location, Provider and the other rows of `describe table extended` below its
    column list, as a dict. -#}
{% macro table_details(relation) -%}
    {%- set described = run_query('describe table extended ' ~ relation) -%}
    {%- set details = {} -%}
    {%- set section = namespace(detailed=false) -%}
    {%- for row in described.rows -%}
        {%- if row[0] == '# Detailed Table Information' -%}
            {%- set section.detailed = true -%}
        {%- elif section.detailed and row[0] -%}
            {%- do details.update({row[0]: row[1]}) -%}
        {%- endif -%}
    {%- endfor -%}
    {%- if 'Location' not in details -%}
        {{ exceptions.raise_compiler_error(
            'Cannot find the storage location of ' ~ relation ~ ' in its description.'
        ) }}
    {%- endif -%}
    {{- return(details) -}}
{%- endmacro %}
