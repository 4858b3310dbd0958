{#- What a mart merged on its key reads from `relation` (a model with built_at): only
    the rows of the `key` values that have a row built since this mart last changed one
    (the mart's max(built_at)), so a run recomputes only those keys, each from all of
    its rows, and `merge` replaces just their rows. A full build, or a mart rewritten
    whole (insert_overwrite), reads `relation` itself. `key` may be coarser than the
    mart's unique_key (a question's options, all questions of an exam) and may be an
    expression of the relation's columns. `incremental`: the model's is_incremental(),
    passed in so that a dbt unit test's override of it holds here too. -#}
{% macro rows_of_changed_keys(relation, key, incremental) -%}
    {%- if incremental and config.get('incremental_strategy') == 'merge' -%}
        (
            select * from {{ relation }}
            where {{ key }} in (
                select {{ key }} from {{ relation }}
                where built_at > (
                    select coalesce(max(built_at), timestamp '1970-01-01')
                    from {{ this }}
                )
            )
        ) as {{ relation.identifier }}
    {%- else -%}
        {{ relation }}
    {%- endif -%}
{%- endmacro %}
