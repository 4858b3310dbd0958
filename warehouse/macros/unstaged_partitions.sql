{#- A filter on kafka_date keeping the partitions of a raw relation whose files changed
    since stg_assessments__attempts last built them (see changed_partitions); `true`
    before staging first exists. The staging table is looked up in the graph, not
    ref()'d, so tests on the raw sources keep running before staging. -#}
{% macro unstaged_partitions(relation) -%}
    {%- set node = graph.nodes['model.edtrack.stg_assessments__attempts'] -%}
    {%- set staged = adapter.get_relation(
        database=none, schema=node.schema, identifier=node.alias
    ) if execute else none -%}
    {%- if staged is none -%}
        true
    {%- else -%}
        {{ changed_partitions(relation, compare_with=staged) }}
    {%- endif -%}
{%- endmacro %}
