#!/usr/bin/env bash
# Stops the local Kafka broker that listens on 127.0.0.1:KAFKA_PORT (default 9092), whichever checkout's
# kafka-start.sh started it: the broker is found by its listening port (ss, else lsof, else /proc; see
# kafka-lib.sh), not only by this checkout's pid file. If nothing listens on the port, the pid file in
# KAFKA_DATA_DIR is used (a broker of ours that is still starting).
# SIGTERM (controlled shutdown), wait up to KAFKA_STOP_TIMEOUT seconds (default 30), then SIGKILL.
# Only a kafka.Kafka JVM is ever signalled.
#
# A cluster (kafka-start.sh with KAFKA_NODES > 1) is stopped whole, all nodes at once, when:
#   - the broker on KAFKA_PORT is one of its nodes (any node: the others follow from its server.properties), or
#   - nothing listens on KAFKA_PORT but a node's pid file KAFKA_DATA_DIR/node-<id>/kafka.pid names a live broker
#     (node 1 was killed), or KAFKA_NODES > 1 is given: the nodes on KAFKA_PORT + 2*(id-1) are stopped.
# So a plain `npm run kafka:stop` also stops `KAFKA_NODES=3 npm run kafka:start`. A port of the cluster held
# by a broker that is not that node (another data folder) is left alone. A node's controlled shutdown needs a
# majority of the controllers to approve it, so the last node of a whole-cluster stop can never finish it:
# once too few nodes run, a node still stopping gets SIGKILL after 3 s (its next start recovers its logs).
# KAFKA_NODE=<id> stops only node <id> of the cluster based at KAFKA_PORT / KAFKA_DATA_DIR (its port
# KAFKA_PORT + 2*(id-1)); `KAFKA_NODES=3 KAFKA_NODE=<id> kafka-start.sh` starts it again.
#
# Exit status: 0 once no broker runs (also when none was running); 1 if the port is held by something that
# is not a Kafka broker, or by a process this user cannot see or signal (then nothing is signalled), or if a
# node of a cluster could not be stopped.
# A broker started from another checkout is restarted with that checkout's kafka-start.sh and knobs: this
# script prints the command, and kafka-which.sh prints the knobs (libs/platform/testing broker.ts uses it).
#
# Env knobs (defaults): KAFKA_PORT=9092  KAFKA_DATA_DIR=deploy/kafka-local/data  KAFKA_STOP_TIMEOUT=30
#   KAFKA_NODES (unset: found out as above)  KAFKA_NODE (unset: every node)
set -euo pipefail

SCRIPT_DIR="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
KAFKA_HOME="$(cd "${SCRIPT_DIR}/.." && pwd)"
KAFKA_PORT="${KAFKA_PORT:-9092}"
KAFKA_DATA_DIR="${KAFKA_DATA_DIR:-${KAFKA_HOME}/data}"
KAFKA_STOP_TIMEOUT="${KAFKA_STOP_TIMEOUT:-30}"
KAFKA_NODES="${KAFKA_NODES:-}"
KAFKA_NODE="${KAFKA_NODE:-}"
# shellcheck source=kafka-lib.sh
source "${SCRIPT_DIR}/kafka-lib.sh"

log() { printf '[kafka-stop] %s%s\n' "${NODE_TAG:-}" "$*"; }
die() { printf '[kafka-stop] %sERROR: %s\n' "${NODE_TAG:-}" "$*" >&2; exit 1; }

port_open() { # port -> 0 if something on 127.0.0.1 accepts a TCP connection
  timeout 2 bash -c "exec 3<>/dev/tcp/127.0.0.1/$1" 2>/dev/null
}

if [[ -n "${KAFKA_NODES}" && ! "${KAFKA_NODES}" =~ ^[1-9]$ ]]; then die "KAFKA_NODES must be 1 to 9 (got '${KAFKA_NODES}')"; fi
if [[ -n "${KAFKA_NODE}" && ! "${KAFKA_NODE}" =~ ^[1-9]$ ]]; then die "KAFKA_NODE must be a node id, 1 to 9 (got '${KAFKA_NODE}')"; fi
if [[ -d "${KAFKA_DATA_DIR}" ]]; then KAFKA_DATA_DIR="$(cd "${KAFKA_DATA_DIR}" && pwd)"; fi

# Stops the broker on NODE_PORT, else the one of NODE_DATA_DIR's pid file. With NODE_ONLY_OURS=1 (a node of
# a cluster) a broker on the port that does not run from NODE_DATA_DIR is not ours to stop. Exits (the
# script for one broker, the node's subshell on a cluster).
stop_node() {
  local pid="" data_dir="${NODE_DATA_DIR}"
  if kafka_find_on_port "${NODE_PORT}"; then
    pid="${KAFKA_BROKER_PID}"
    kafka_describe "${pid}" || true
    if [[ "${NODE_ONLY_OURS:-0}" == 1 && -n "${BROKER_DATA_DIR}" && "${BROKER_DATA_DIR}" != "${NODE_DATA_DIR}" ]]; then
      log "127.0.0.1:${NODE_PORT} is held by a broker of ${BROKER_DATA_DIR}, not this node (${NODE_DATA_DIR}); leaving it alone."
      exit 0
    fi
    if [[ -n "${BROKER_DATA_DIR}" ]]; then data_dir="${BROKER_DATA_DIR}"; fi
  elif [[ -n "${KAFKA_LISTENER_OTHER}" ]]; then
    die "127.0.0.1:${NODE_PORT} is held by pid ${KAFKA_LISTENER_OTHER% } ($(tr '\0' ' ' <"/proc/${KAFKA_LISTENER_OTHER%% *}/cmdline" 2>/dev/null | cut -c1-120)), not a Kafka broker; not signalling it."
  elif port_open "${NODE_PORT}"; then
    die "something accepts connections on 127.0.0.1:${NODE_PORT}, but no process of $(id -un) listens there (another user's broker, a container?); cannot stop it."
  fi

  if [[ -d "${data_dir}" ]] && command -v flock >/dev/null 2>&1; then
    # Same lock as kafka-start.sh (of the broker's own data folder), so a stop never races a concurrent start.
    exec 9>>"${data_dir}/kafka.lock"
    flock -w 15 9 || log "${data_dir}/kafka.lock is held (a start in progress?); stopping anyway."
  fi
  PID_FILE="${data_dir}/kafka.pid"

  # A start that held the lock may have brought the broker up meanwhile.
  if [[ -z "${pid}" ]] && kafka_find_on_port "${NODE_PORT}"; then
    pid="${KAFKA_BROKER_PID}"
    kafka_describe "${pid}" || true
    if [[ -n "${BROKER_DATA_DIR}" && "${BROKER_DATA_DIR}" != "${data_dir}" ]]; then
      if [[ "${NODE_ONLY_OURS:-0}" == 1 ]]; then
        log "127.0.0.1:${NODE_PORT} is held by a broker of ${BROKER_DATA_DIR}, not this node; leaving it alone."
        exit 0
      fi
      data_dir="${BROKER_DATA_DIR}"
      PID_FILE="${data_dir}/kafka.pid"
    fi
  fi

  if [[ -z "${pid}" ]]; then
    if [[ ! -f "${PID_FILE}" ]]; then
      log "Kafka is not running (nothing listens on 127.0.0.1:${NODE_PORT}, no ${PID_FILE})."
      exit 0
    fi
    pid="$(tr -dc '0-9' <"${PID_FILE}")"
    if [[ -z "${pid}" ]] || ! kill -0 "${pid}" 2>/dev/null; then
      log "Kafka is not running (stale pid file removed)."
      rm -f "${PID_FILE}"
      exit 0
    fi
    if ! kafka_is_broker "${pid}"; then
      log "pid ${pid} from ${PID_FILE} is not a Kafka broker; removing the stale pid file, not signalling it."
      rm -f "${PID_FILE}"
      exit 0
    fi
    log "Nothing listens on 127.0.0.1:${NODE_PORT}; stopping the broker of ${PID_FILE} (pid ${pid}, still starting?)."
  elif ! kill -0 "${pid}" 2>/dev/null; then
    log "Kafka (pid ${pid}) exited meanwhile."
    exit 0
  else
    log "Kafka on 127.0.0.1:${NODE_PORT} is pid ${pid}, started from ${BROKER_HOME:-an unknown checkout} (data ${data_dir})."
  fi

  local start_s deadline siblings=() sibling alive stranded_since="" j
  # A node of a cluster: the other nodes' processes, to tell when this one is left without a controller quorum.
  if [[ -n "${NODE_ID:-}" ]] && ((${CLUSTER_SIZE:-1} > 1)); then
    for ((j = 1; j <= CLUSTER_SIZE; j++)); do
      if ((j != NODE_ID)) && sibling="$(cluster_node_pid "${j}")"; then siblings+=("${sibling}"); fi
    done
  fi
  start_s="$(date +%s)"
  log "Stopping Kafka (pid ${pid})..."
  kill -TERM "${pid}" 2>/dev/null || die "cannot signal pid ${pid} (another user's process?)"
  deadline=$((start_s + KAFKA_STOP_TIMEOUT))
  while kill -0 "${pid}" 2>/dev/null; do
    if (($(date +%s) >= deadline)); then
      log "Kafka did not stop within ${KAFKA_STOP_TIMEOUT}s; sending SIGKILL."
      kill -KILL "${pid}" 2>/dev/null || true
      sleep 0.5
      break
    fi
    if [[ -n "${NODE_ID:-}" ]] && ((${CLUSTER_SIZE:-1} > 1)); then
      # A broker's controlled shutdown waits for the controllers' approval, which needs a majority of them: once
      # too few nodes run (the others of a whole-cluster stop have exited), it would wait for minutes. Its
      # data is in the page cache already; the next start only recovers its logs.
      alive=1
      for sibling in "${siblings[@]}"; do if kill -0 "${sibling}" 2>/dev/null; then alive=$((alive + 1)); fi; done
      if ((alive <= CLUSTER_SIZE / 2)); then
        stranded_since="${stranded_since:-$(date +%s)}"
        if (($(date +%s) - stranded_since >= 3)); then
          log "Only ${alive} of ${CLUSTER_SIZE} nodes run: no controller quorum to approve the controlled shutdown; sending SIGKILL."
          kill -KILL "${pid}" 2>/dev/null || true
          sleep 0.5
          break
        fi
      fi
    fi
    sleep 0.2
  done
  if [[ "$(tr -dc '0-9' 2>/dev/null <"${PID_FILE}" || true)" == "${pid}" ]]; then rm -f "${PID_FILE}"; fi
  log "Kafka stopped ($(($(date +%s) - start_s))s)."
  if [[ "${NODE_ONLY_OURS:-0}" != 1 && -n "${BROKER_HOME:-}" && "${BROKER_HOME}" != "${KAFKA_HOME}" ]]; then
    log "It was started from another checkout; to start that broker again:"
    log "  KAFKA_PORT=${NODE_PORT} KAFKA_CONTROLLER_PORT=${BROKER_CONTROLLER_PORT:-?} KAFKA_DATA_DIR=${data_dir}" \
      "KAFKA_LOG_DIR=${BROKER_LOG_DIR:-?} KAFKA_HEAP=${BROKER_HEAP:-512m}${BROKER_JVM_OPTS:+ KAFKA_JVM_OPTS=\"${BROKER_JVM_OPTS}\"}" \
      "bash ${BROKER_HOME}/scripts/kafka-start.sh"
  fi
  exit 0
}

# node id -> the pid of that node of the cluster at CLUSTER_PORT / CLUSTER_DATA_DIR, if it runs
cluster_node_pid() {
  local pid_file="${CLUSTER_DATA_DIR}/node-$1/kafka.pid" pid
  if kafka_find_on_port $((CLUSTER_PORT + 2 * ($1 - 1))) && kafka_describe "${KAFKA_BROKER_PID}" &&
    [[ "${BROKER_DATA_DIR}" == "${CLUSTER_DATA_DIR}/node-$1" ]]; then
    printf '%s\n' "${KAFKA_BROKER_PID}"
    return 0
  fi
  pid="$(tr -dc '0-9' 2>/dev/null <"${pid_file}" || true)"
  kafka_is_broker "${pid}" && printf '%s\n' "${pid}"
}

# Stops nodes <ids...> of the cluster of CLUSTER_SIZE nodes based at CLUSTER_PORT with data in
# CLUSTER_DATA_DIR, all at once.
stop_cluster_nodes() {
  local id failed=()
  declare -A children=()
  for id in "$@"; do
    (
      NODE_TAG="node ${id}: " NODE_ONLY_OURS=1 NODE_ID="${id}"
      NODE_PORT=$((CLUSTER_PORT + 2 * (id - 1))) NODE_DATA_DIR="${CLUSTER_DATA_DIR}/node-${id}"
      stop_node
    ) &
    children[${id}]=$!
  done
  for id in "$@"; do wait "${children[${id}]}" || failed+=("${id}"); done
  if ((${#failed[@]} > 0)); then die "node(s) ${failed[*]} could not be stopped"; fi
}

# --- one node of a cluster ------------------------------------------------------------------------
if [[ -n "${KAFKA_NODE}" ]]; then
  CLUSTER_PORT="${KAFKA_PORT}" CLUSTER_DATA_DIR="${KAFKA_DATA_DIR}"
  CLUSTER_SIZE="${KAFKA_NODES:-$(sed -n 's/^nodes=//p' "${KAFKA_DATA_DIR}/nodes.properties" 2>/dev/null | tr -d '[:space:]')}"
  CLUSTER_SIZE="${CLUSTER_SIZE:-1}"
  stop_cluster_nodes "${KAFKA_NODE}"
  exit 0
fi

# --- which: a cluster, or the one broker ----------------------------------------------------------
cluster_nodes=""
CLUSTER_PORT="${KAFKA_PORT}" CLUSTER_DATA_DIR="${KAFKA_DATA_DIR}"
if kafka_find_on_port "${KAFKA_PORT}"; then
  if kafka_describe "${KAFKA_BROKER_PID}" && kafka_cluster_of; then cluster_nodes="${BROKER_NODES}"; fi
elif [[ -n "${KAFKA_NODES}" ]] && ((KAFKA_NODES > 1)); then
  cluster_nodes="${KAFKA_NODES}"
elif [[ -z "${KAFKA_LISTENER_OTHER}" ]]; then
  # Node 1 is down (killed, or still starting): the other nodes' pid files tell whether a cluster runs here.
  for pid_file in "${KAFKA_DATA_DIR}"/node-*/kafka.pid; do
    [[ -f "${pid_file}" ]] || continue
    if kafka_is_broker "$(tr -dc '0-9' <"${pid_file}")"; then
      cluster_nodes="$(sed -n 's/^nodes=//p' "${KAFKA_DATA_DIR}/nodes.properties" 2>/dev/null | tr -d '[:space:]')"
      if [[ -z "${cluster_nodes}" ]]; then cluster_nodes="$(find "${KAFKA_DATA_DIR}" -maxdepth 1 -name 'node-*' -type d | wc -l)"; fi
      break
    fi
  done
fi

if [[ -z "${cluster_nodes}" ]] || ((cluster_nodes < 2)); then
  NODE_PORT="${KAFKA_PORT}" NODE_DATA_DIR="${KAFKA_DATA_DIR}"
  stop_node
fi

start_s="$(date +%s)"
log "Stopping the Kafka cluster of ${cluster_nodes} nodes on 127.0.0.1:${CLUSTER_PORT} and up (data ${CLUSTER_DATA_DIR})..."
CLUSTER_SIZE="${cluster_nodes}"
# shellcheck disable=SC2046 # one id per word
stop_cluster_nodes $(seq 1 "${cluster_nodes}")
log "Kafka cluster stopped ($(($(date +%s) - start_s))s)."
