{#- Column descriptions into the metastore for parquet tables too (dbt-spark persists
    them only for delta, hudi and iceberg). Spark changes a column's comment on a v1
    (Hive-registered) table with ALTER TABLE ... CHANGE COLUMN. Executed without fetching:
    PyHive cannot fetch the empty result Spark returns for DDL. Partition columns are
    skipped: Spark cannot change them (their description stays in the dbt docs). -#}
{% macro spark__alter_column_comment(relation, column_dict) %}
    {% set partition_by = config.get('partition_by') or [] %}
    {% set partition_by = [partition_by] if partition_by is string else partition_by %}
    {% for column_name in column_dict if column_name not in partition_by %}
        {% set comment = column_dict[column_name]['description'] %}
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
    {% endfor %}
{% endmacro %}
