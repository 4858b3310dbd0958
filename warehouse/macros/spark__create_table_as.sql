{#- dbt-spark's create_table_as, except for a new Iceberg table with documented columns:
    it is created with its column comments in the CREATE (types from DESCRIBE QUERY)
    and filled by one INSERT, two commits. dbt-spark's CTAS is followed by one
    ALTER ... COMMENT per column, each a commit of its own (a new metadata.json on
    HDFS): about 30 per model on a first build. A table that exists (a full refresh)
    is replaced as dbt-spark does, in one atomic `create or replace ... as select`, so
    clients keep reading the previous snapshot until then; spark__alter_column_comment
    then sets its comments. -#}
{% macro spark__create_table_as(temporary, relation, compiled_code, language='sql') -%}
    {%- set columns_documented = (
        language == 'sql' and not temporary
        and config.get('file_format') == 'iceberg'
        and config.persist_column_docs() and model.columns
        and not config.get('contract').enforced
    ) -%}
    {%- if columns_documented and execute and not should_full_refresh()
        and load_cached_relation(relation) is none -%}
        {%- do adapter.execute(create_documented_table(relation, compiled_code)) -%}
        insert into {{ relation }}
        {{ compiled_code }}
    {%- else -%}
        {{ dbt.spark__create_table_as(temporary, relation, compiled_code, language) }}
    {%- endif -%}
{%- endmacro %}

{#- `create table` with the query's columns, each with its description from the model's
    yml as comment, and dbt-spark's format, partitioning, properties and table comment. -#}
{% macro create_documented_table(relation, compiled_code) -%}
    {%- set docs = model.columns -%}
    {%- set described = run_query('describe query ' ~ compiled_code) -%}
    create table {{ relation }} (
    {%- for row in described.rows %}
        {%- set doc = docs.get(row[0]) %}
        {{ adapter.quote(row[0]) }} {{ row[1] }}
        {%- if doc and doc.description %} comment '{{ doc.description | replace('\\', '\\\\') | replace("'", "\\'") }}'{% endif %}
        {{- "," if not loop.last }}
    {%- endfor %}
    )
    {{ file_format_clause() }}
    {{ options_clause() }}
    {{ tblproperties_clause() }}
    {{ partition_cols(label="partitioned by") }}
    {{ clustered_cols(label="clustered by") }}
    {{ location_clause() }}
    {{ comment_clause() }}
{%- endmacro %}
