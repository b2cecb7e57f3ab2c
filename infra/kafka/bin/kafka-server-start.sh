#!/usr/bin/env bash
# Same defaults as Kafka's own kafka-server-start.sh: a 1 GiB heap unless KAFKA_HEAP_OPTS says otherwise.
export KAFKA_HEAP_OPTS=${KAFKA_HEAP_OPTS:--Xmx1G -Xms1G}
export KAFKA_LOG4J_OPTS=${KAFKA_LOG4J_OPTS:--Dlog4j2.configurationFile=/etc/kafka/docker/log4j2.properties}
exec "$(dirname "$0")/kafka-run-class.sh" kafka.Kafka "$@"
