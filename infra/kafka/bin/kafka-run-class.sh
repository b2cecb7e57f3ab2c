#!/usr/bin/env bash
# Minimal stand-in for Kafka's own kafka-run-class.sh: same variables, jars from /opt/kafka/libs.
# KAFKA_LOG4J_OPTS picks the log configuration: the broker's (stdout, INFO) or the tools' (stderr, WARN).
set -euo pipefail
: "${KAFKA_HEAP_OPTS:=-Xmx256M}"
: "${KAFKA_JVM_PERFORMANCE_OPTS:=-server -XX:+UseG1GC -XX:MaxGCPauseMillis=20 -XX:InitiatingHeapOccupancyPercent=35 -XX:+ExplicitGCInvokesConcurrent -Djava.awt.headless=true}"
: "${KAFKA_LOG4J_OPTS:=-Dlog4j2.configurationFile=/etc/kafka/docker/tools-log4j2.properties}"
# shellcheck disable=SC2086 # the *_OPTS variables are lists of JVM flags
exec java $KAFKA_HEAP_OPTS $KAFKA_JVM_PERFORMANCE_OPTS $KAFKA_LOG4J_OPTS ${KAFKA_OPTS:-} \
  -cp '/opt/kafka/libs/*' "$@"
