#!/bin/sh
# Start the Hive metastore (Thrift, port 9083) of docker-compose.yml on the Hive 2.3.9
# jars of the Spark image. Its database is PostgreSQL (hive-site.xml); the schema is
# created by schematool the first time (init-schema.sh), never by DataNucleus.
set -eu
conf=/etc/edtrack/metastore
sh "$conf/init-schema.sh"
exec java "-Xmx${METASTORE_HEAP:-512m}" -Xms64m -XX:+UseSerialGC \
  -Duser.timezone=UTC -Djava.net.preferIPv4Stack=true \
  "-Dlog4j.configurationFile=$conf/log4j2.properties" \
  -cp "$conf:/opt/spark/jars/*:/opt/edtrack/jdbc/*" \
  org.apache.hadoop.hive.metastore.HiveMetaStore -p 9083
