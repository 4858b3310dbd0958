{#- Column descriptions into the metastore for parquet tables too (dbt-spark persists
    them only for delta, hudi and iceberg). Spark changes a column's comment on a v1
    (Hive-registered) table with ALTER TABLE ... CHANGE COLUMN, one metastore call per
    column, so only columns whose comment differs are altered: an incremental model
    keeps its comments between runs and pays one DESCRIBE instead. Executed without
    fetching: PyHive cannot fetch the empty result Spark returns for DDL. Partition
    columns are skipped: Spark cannot change them (their description stays in the dbt
    docs). -#}
{% macro spark__alter_column_comment(relation, column_dict) %}
    {% set partition_by = config.get('partition_by') or [] %}
    {% set partition_by = [partition_by] if partition_by is string else partition_by %}
    {% set current = {} %}
    {% set described = namespace(done=false) %}
    {% for row in run_query('describe table ' ~ relation) %}
        {% if not row[0] or row[0].startswith('#') %}
            {% set described.done = true %}
        {% elif not described.done %}
            {% do current.update({row[0]: (row[2] or '') | trim}) %}
        {% endif %}
    {% endfor %}
    {% for column_name in column_dict if column_name not in partition_by %}
        {% set comment = column_dict[column_name]['description'] %}
        {% if current.get(column_name) != comment | trim %}
            {% set escaped = comment | replace('\\', '\\\\') | replace("'", "\\'") %}
            {% set column = adapter.quote(column_name) if column_dict[column_name]['quote']
                else column_name %}
            {% if relation.is_iceberg %}
                {% do adapter.execute("alter table " ~ relation ~ " alter column " ~ column
                    ~ " comment '" ~ escaped ~ "'") %}
            {% else %}
                {% do adapter.execute("alter table " ~ relation ~ " change column " ~ column
                    ~ " comment '" ~ escaped ~ "'") %}
            {% endif %}
        {% endif %}
    {% endfor %}
{% endmacro %}
