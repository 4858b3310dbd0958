#!/bin/sh
# Start one Kafka broker of docker-compose.nodes.yml; format its storage on the first
# start. The three brokers are one cluster: each is formatted with the same cluster id
# (fixed here, as no broker can hand its own to the others before they start) and finds
# the other controllers in controller.quorum.voters, so none formats as --standalone.
set -eu
conf=/etc/edtrack/kafka
cluster_id=GZs_mX5ytlxB2-8r90j2yg
if [ ! -f /var/lib/kafka/data/meta.properties ]; then
  echo "formatting Kafka storage (once)"
  /opt/kafka/bin/kafka-storage.sh format --ignore-formatted \
    --cluster-id="$cluster_id" --config="$conf/server.properties"
fi
export KAFKA_LOG4J_OPTS="-Dlog4j2.configurationFile=$conf/log4j2.properties"
exec /opt/kafka/bin/kafka-server-start.sh "$conf/server.properties"
