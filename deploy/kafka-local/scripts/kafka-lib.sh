#!/usr/bin/env bash
# Shared by kafka-start.sh, kafka-stop.sh and kafka-which.sh (sourced, not run): finds the broker that
# listens on a port, whichever checkout started it, and reads back the knobs it was started with.
#
# A broker started by kafka-start.sh is a JVM whose command line is
#   java <-Xms> -Xmx<KAFKA_HEAP> ... -Dlog4j.configuration=file:<KAFKA_HOME>/log4j.properties
#        -Dkafka.logs.dir=<KAFKA_LOG_DIR> [KAFKA_JVM_OPTS...] -cp <KAFKA_HOME>/lib/* kafka.Kafka <KAFKA_DATA_DIR>/server.properties
# so its checkout (KAFKA_HOME), data and log folders, heap and extra flags can be read from /proc/<pid>/cmdline,
# and its ports, node id and the number of nodes of its cluster (the voters) from the server.properties it
# runs with. A node of a cluster (KAFKA_NODES > 1) runs from <KAFKA_DATA_DIR>/node-<id>/server.properties and
# logs to <KAFKA_LOG_DIR>/node-<id>; node <id> listens on KAFKA_PORT + 2 * (id - 1), its controller on
# KAFKA_CONTROLLER_PORT + 2 * (id - 1): the cluster's knobs follow from any one node (kafka_cluster_of).
#
# Finding the listener: ss (iproute2, on Debian by default), else lsof, else a scan of /proc/net/tcp{,6} and
# /proc/<pid>/fd. All three only see processes of the same user (or every process as root).

# port -> the pids (one a line, sorted, unique) of the processes listening on TCP port <port>
kafka_listener_pids() {
  local port="$1" out=""
  if command -v ss >/dev/null 2>&1; then
    out="$(ss -Hltnp "sport = :${port}" 2>/dev/null | grep -o 'pid=[0-9]*' | cut -d= -f2 || true)"
  fi
  if [[ -z "${out}" ]] && command -v lsof >/dev/null 2>&1; then
    out="$(lsof -nP -t -iTCP:"${port}" -sTCP:LISTEN 2>/dev/null || true)"
  fi
  if [[ -z "${out}" ]]; then
    out="$(kafka_listener_pids_proc "${port}")"
  fi
  [[ -n "${out}" ]] && printf '%s\n' "${out}" | sort -un
  return 0
}

# port -> pids from /proc alone: the socket inodes in state LISTEN (0A) on the port, then their owners
kafka_listener_pids_proc() {
  local hex inodes pid fd link
  hex="$(printf '%04X' "$1")"
  inodes="$(awk -v hex="${hex}" '$4 == "0A" { n = split($2, a, ":"); if (a[n] == hex) print $10 }' \
    /proc/net/tcp /proc/net/tcp6 2>/dev/null | sort -u)"
  [[ -n "${inodes}" ]] || return 0
  for fd in /proc/[0-9]*/fd/*; do
    link="$(readlink "${fd}" 2>/dev/null)" || continue
    [[ "${link}" == socket:\[*\] ]] || continue
    if grep -qx "${link:8:${#link}-9}" <<<"${inodes}"; then
      pid="${fd#/proc/}"
      printf '%s\n' "${pid%%/*}"
    fi
  done | sort -un
}

# pid -> 0 if it is alive and a kafka.Kafka JVM
kafka_is_broker() {
  [[ -n "$1" ]] && kill -0 "$1" 2>/dev/null || return 1
  tr '\0' ' ' <"/proc/$1/cmdline" 2>/dev/null | grep -q 'kafka\.Kafka'
}

# pid -> sets BROKER_HOME, BROKER_DATA_DIR, BROKER_LOG_DIR, BROKER_HEAP and BROKER_JVM_OPTS from the broker's
# command line, and BROKER_PORT, BROKER_CONTROLLER_PORT, BROKER_NODE_ID and BROKER_NODES (voters of its
# quorum: 1 for a single node) from its server.properties (empty when not found there)
kafka_describe() {
  local -a args=()
  local i arg after_logs=0 props=""
  mapfile -d '' -t args <"/proc/$1/cmdline" || return 1
  BROKER_HOME="" BROKER_DATA_DIR="" BROKER_LOG_DIR="" BROKER_HEAP="" BROKER_CONTROLLER_PORT="" BROKER_JVM_OPTS=""
  BROKER_PORT="" BROKER_NODE_ID="" BROKER_NODES=""
  for ((i = 0; i < ${#args[@]}; i++)); do
    arg="${args[i]}"
    case "${arg}" in
      -Xmx*) BROKER_HEAP="${arg#-Xmx}" ;;
      -Dlog4j.configuration=file:*) BROKER_HOME="$(dirname "${arg#-Dlog4j.configuration=file:}")" ;;
      -Dkafka.logs.dir=*) BROKER_LOG_DIR="${arg#-Dkafka.logs.dir=}"; after_logs=1; continue ;;
      -cp) after_logs=0 ;;
      kafka.Kafka) props="${args[i + 1]:-}"; break ;;
    esac
    if ((after_logs)); then BROKER_JVM_OPTS="${BROKER_JVM_OPTS:+${BROKER_JVM_OPTS} }${arg}"; fi
  done
  if [[ -n "${props}" ]]; then
    [[ "${props}" == /* ]] || props="$(readlink -f "/proc/$1/cwd")/${props}"
    BROKER_DATA_DIR="$(dirname "${props}")"
    if [[ -r "${props}" ]]; then
      kafka_read_props "${props}"
    fi
  fi
}

# server.properties -> sets BROKER_PORT, BROKER_CONTROLLER_PORT (from `listeners`), BROKER_NODE_ID and
# BROKER_NODES (the entries of `controller.quorum.voters`)
kafka_read_props() {
  local listeners voters
  listeners="$(sed -n 's/^listeners=//p' "$1" | head -n 1)"
  BROKER_PORT="$(grep -o 'PLAINTEXT://[^,]*:[0-9]*' <<<"${listeners}" | head -n 1 | sed 's/.*://')" || true
  BROKER_CONTROLLER_PORT="$(grep -o 'CONTROLLER://[^,]*:[0-9]*' <<<"${listeners}" | head -n 1 | sed 's/.*://')" || true
  BROKER_NODE_ID="$(sed -n 's/^node\.id=\([0-9][0-9]*\)[[:space:]]*$/\1/p' "$1" | head -n 1)"
  voters="$(sed -n 's/^controller\.quorum\.voters=//p' "$1" | head -n 1 | tr -d '[:space:]')"
  if [[ -n "${voters}" ]]; then BROKER_NODES="$(tr ',' '\n' <<<"${voters}" | grep -c .)"; fi
}

# After kafka_describe of a node of a cluster (BROKER_NODES > 1): sets CLUSTER_PORT, CLUSTER_CONTROLLER_PORT,
# CLUSTER_DATA_DIR and CLUSTER_LOG_DIR, the knobs kafka-start.sh was given for the whole cluster (1 if the
# broker is not such a node).
kafka_cluster_of() {
  CLUSTER_PORT="" CLUSTER_CONTROLLER_PORT="" CLUSTER_DATA_DIR="" CLUSTER_LOG_DIR=""
  [[ "${BROKER_NODES:-1}" -gt 1 && -n "${BROKER_NODE_ID}" && -n "${BROKER_PORT}" ]] || return 1
  [[ "$(basename "${BROKER_DATA_DIR}")" == "node-${BROKER_NODE_ID}" ]] || return 1
  CLUSTER_PORT=$((BROKER_PORT - 2 * (BROKER_NODE_ID - 1)))
  if [[ -n "${BROKER_CONTROLLER_PORT}" ]]; then
    CLUSTER_CONTROLLER_PORT=$((BROKER_CONTROLLER_PORT - 2 * (BROKER_NODE_ID - 1)))
  fi
  CLUSTER_DATA_DIR="$(dirname "${BROKER_DATA_DIR}")"
  if [[ -n "${BROKER_LOG_DIR}" ]]; then CLUSTER_LOG_DIR="$(dirname "${BROKER_LOG_DIR}")"; fi
}

# port -> sets KAFKA_BROKER_PID to the kafka.Kafka JVM listening on it (0) or to "" (1), and
# KAFKA_LISTENER_OTHER to the pids of listeners on it that are not Kafka brokers. Call it directly, not in $(...).
kafka_find_on_port() {
  local pid
  KAFKA_BROKER_PID="" KAFKA_LISTENER_OTHER=""
  for pid in $(kafka_listener_pids "$1"); do
    if kafka_is_broker "${pid}"; then KAFKA_BROKER_PID="${pid}"; else KAFKA_LISTENER_OTHER+="${pid} "; fi
  done
  [[ -n "${KAFKA_BROKER_PID}" ]]
}
