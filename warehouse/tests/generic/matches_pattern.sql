{#- Fails for every non-null value of `column_name` that `pattern` (a Java regular
    expression, matched anywhere unless anchored with ^ and $) does not match. -#}
{% test matches_pattern(model, column_name, pattern) %}
    {%- if pattern is not string or not pattern or "'" in pattern or "\\" in pattern -%}
        {{ exceptions.raise_compiler_error(
            "matches_pattern needs a non-empty pattern without quotes or backslashes, got "
            ~ pattern) }}
    {%- endif %}

    select {{ column_name }}
    from {{ model }}
    where
        {{ column_name }} is not null
        and not {{ column_name }} rlike '{{ pattern }}'

{% endtest %}
