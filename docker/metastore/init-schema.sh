#!/bin/sh
# One-shot: create the metastore schema in PostgreSQL with Hive's schematool, once.
# A schema that is already there (schematool -info succeeds) is left as it is.
set -eu
conf=/etc/edtrack/metastore
schematool() {
  java -Xmx256m "-Dlog4j.configurationFile=$conf/log4j2.properties" \
    -cp "$conf:/opt/spark/jars/*:/opt/edtrack/jdbc/*" \
    org.apache.hive.beeline.HiveSchemaTool -dbType postgres "$@"
}
if schematool -info >/dev/null 2>&1; then
  echo "metastore schema already present"
  exit 0
fi
echo "creating the metastore schema"
schematool -initSchema
