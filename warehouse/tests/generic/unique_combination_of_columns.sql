{#- Fails for every combination of `combination` values that appears more than once. -#}
{% test unique_combination_of_columns(model, combination) %}
    {%- if combination is not iterable or combination is string or combination | length == 0 -%}
        {{ exceptions.raise_compiler_error(
            "unique_combination_of_columns needs a non-empty list of columns, got "
            ~ combination) }}
    {%- endif %}

    select
        {{ combination | join(', ') }},
        count(*) as occurrences
    from {{ model }}
    group by {{ combination | join(', ') }}
    having count(*) > 1

{% endtest %}
