{#- from_json of one attempt payload with the explicit schema. A payload that does not
    fit the schema (a wrong type anywhere) parses to null as a whole: staging drops it
    and stg_assessments__attempt_parse_errors lists it with the reason. -#}
{% macro parse_attempt(column) -%}
    from_json({{ column }}, '{{ assessment_attempt_schema() | replace("\n", " ") }}')
{%- endmacro %}
