{#- dbt-spark's listing (one `show table extended` per schema), with Iceberg tables
    named as such. With Iceberg's SparkSessionCatalog the listing goes through Spark's
    own Hive catalog, which reports an Iceberg table as `Provider: hive`; dbt-spark reads
    the provider from that text, so it would take every Iceberg table for a Hive table
    (a drop before each rebuild, the Hive form of insert overwrite, snapshots refused).
    The metastore entry of an Iceberg table carries `table_type=ICEBERG`. -#}
{% macro spark__list_relations_without_caching(relation) %}
    {% call statement('list_relations_without_caching', fetch_result=True) -%}
        show table extended in {{ relation.schema }} like '*'
    {%- endcall %}
    {% set rows = [] %}
    {% for row in load_result('list_relations_without_caching').table %}
        {% set information = row[3] %}
        {% if 'table_type=ICEBERG' in information and 'Provider: hive' in information %}
            {% set information = information | replace('Provider: hive', 'Provider: iceberg') %}
        {% endif %}
        {% do rows.append([row[0], row[1], row[2], information]) %}
    {% endfor %}
    {% do return(rows) %}
{% endmacro %}
