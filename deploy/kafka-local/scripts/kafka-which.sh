#!/usr/bin/env bash
# Prints, as KEY=VALUE lines, the knobs of the Kafka broker listening on 127.0.0.1:KAFKA_PORT (default 9092),
# whichever checkout's kafka-start.sh started it, so that it can be started again as it was:
#   KAFKA_PID  KAFKA_HOME (its deploy/kafka-local: its scripts are KAFKA_HOME/scripts)  KAFKA_PORT
#   KAFKA_CONTROLLER_PORT  KAFKA_DATA_DIR  KAFKA_LOG_DIR  KAFKA_PID_FILE  KAFKA_HEAP  KAFKA_JVM_OPTS
# For a node of a cluster (kafka-start.sh with KAFKA_NODES > 1) the knobs are the cluster's (its first port,
# controller port, data and log folders), plus KAFKA_NODES, KAFKA_NODE (the id of the node on the port) and
# KAFKA_PID_FILE (that node's pid file): `env <those> kafka-start.sh` starts that node again, without KAFKA_NODE
# the cluster's missing nodes.
# Empty values are left out. Exit status 1 (and nothing printed) when no Kafka broker of this user listens there.
# Used by libs/platform/testing (broker.ts) before it stops a broker, to restart that same broker.
set -euo pipefail

SCRIPT_DIR="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
KAFKA_PORT="${KAFKA_PORT:-9092}"
# shellcheck source=kafka-lib.sh
source "${SCRIPT_DIR}/kafka-lib.sh"

kafka_find_on_port "${KAFKA_PORT}" || exit 1
kafka_describe "${KAFKA_BROKER_PID}" || exit 1
emit() { if [[ -n "$2" ]]; then printf '%s=%s\n' "$1" "$2"; fi; }
emit KAFKA_PID "${KAFKA_BROKER_PID}"
emit KAFKA_HOME "${BROKER_HOME}"
if kafka_cluster_of; then
  emit KAFKA_NODES "${BROKER_NODES}"
  emit KAFKA_NODE "${BROKER_NODE_ID}"
  emit KAFKA_PORT "${CLUSTER_PORT}"
  emit KAFKA_CONTROLLER_PORT "${CLUSTER_CONTROLLER_PORT}"
  emit KAFKA_DATA_DIR "${CLUSTER_DATA_DIR}"
  emit KAFKA_LOG_DIR "${CLUSTER_LOG_DIR}"
else
  emit KAFKA_PORT "${KAFKA_PORT}"
  emit KAFKA_CONTROLLER_PORT "${BROKER_CONTROLLER_PORT}"
  emit KAFKA_DATA_DIR "${BROKER_DATA_DIR}"
  emit KAFKA_LOG_DIR "${BROKER_LOG_DIR}"
fi
emit KAFKA_PID_FILE "${BROKER_DATA_DIR:+${BROKER_DATA_DIR}/kafka.pid}"
emit KAFKA_HEAP "${BROKER_HEAP}"
emit KAFKA_JVM_OPTS "${BROKER_JVM_OPTS}"
