{#- from_json of one attempt payload with the explicit schema, plus `_corrupt_record`.
    Spark parses permissively: a value that does not fit its field (a string where a
    struct, array, integer or boolean belongs; an integer beyond 32 bits) becomes null
    while the rest of the payload still parses. `_corrupt_record` holds the payload when
    anything did not fit (null when all of it did), so staging keeps only payloads
    without it and stg_assessments__attempt_parse_errors lists the others with the
    reason. A string field takes any JSON value as its JSON text; staging casts it. -#}
{% macro parse_attempt(column) -%}
    {%- set schema = assessment_attempt_schema() | trim | replace("\n", " ") -%}
    from_json({{ column }}, '{{ schema[:-1] }}, _corrupt_record: string>', map('columnNameOfCorruptRecord', '_corrupt_record'))
{%- endmacro %}
