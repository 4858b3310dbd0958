{#- The where clause that leaves test records (base_exam_id = var('test_exam_id')) out of a
    mart, unless the project var include_test_records is true. -#}
{% macro test_records_filter(column='is_test_record') -%}
    {%- if not var('include_test_records') -%}
        where not {{ column }}
    {%- endif -%}
{%- endmacro %}
