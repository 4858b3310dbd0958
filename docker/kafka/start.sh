#!/bin/sh
# Start the Kafka broker of docker-compose.yml; format its storage on the first start.
set -eu
conf=/etc/edtrack/kafka
if [ ! -f /var/lib/kafka/data/meta.properties ]; then
  echo "formatting Kafka storage (once)"
  # '=' form: a cluster id may start with '-'
  /opt/kafka/bin/kafka-storage.sh format --standalone --ignore-formatted \
    --cluster-id="$(/opt/kafka/bin/kafka-storage.sh random-uuid)" \
    --config="$conf/server.properties"
fi
export KAFKA_LOG4J_OPTS="-Dlog4j2.configurationFile=$conf/log4j2.properties"
exec /opt/kafka/bin/kafka-server-start.sh "$conf/server.properties"
