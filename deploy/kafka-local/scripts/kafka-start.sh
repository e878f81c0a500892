#!/usr/bin/env bash
# Starts Apache Kafka (KRaft, every node a combined broker + controller) from the jars that
# deploy/kafka-local/pom.xml resolves from Maven Central. No Docker needed.
#
#   npm run kafka:start                 one node: broker 127.0.0.1:9092, controller 9093
#   KAFKA_NODES=3 npm run kafka:start   a replicated cluster of three nodes from the same jars: node <id>
#                                       (1..3) has its broker on KAFKA_PORT + 2*(id-1) (9092, 9094, 9096) and
#                                       its controller on KAFKA_CONTROLLER_PORT + 2*(id-1) (9093, 9095, 9097);
#                                       run the services with KAFKA_BROKERS=127.0.0.1:9092,127.0.0.1:9094,127.0.0.1:9096
#
# Idempotent:
#   - a node that already accepts connections on its port is reused (one node: anything on KAFKA_PORT is
#     assumed to be a broker, as always; a cluster node must be this cluster's node, else the start fails);
#   - if our node (pid file) is alive but still starting, waits for it instead of starting another;
#   - a cluster start reuses the nodes that are up, starts the missing ones (all at once: a node is ready only
#     once a majority of the controllers runs) and waits for all of them, until every node lists every broker;
#   - jars are copied once (lib/.complete marker, refreshed when pom.xml changes);
#   - KRaft storage is formatted once (meta.properties), the cluster id kept in the data folder.
#
# Env knobs (defaults):
#   KAFKA_NODES=1 (1-9)  KAFKA_PORT=9092  KAFKA_CONTROLLER_PORT=9093 (a cluster: KAFKA_PORT + 1)
#   KAFKA_DATA_DIR=deploy/kafka-local/data  KAFKA_LOG_DIR=deploy/kafka-local/logs
#   KAFKA_HEAP=512m per node (a cluster: 384m)  KAFKA_START_TIMEOUT=90 (seconds)
#   KAFKA_JVM_OPTS (extra JVM flags, appended, so they win: e.g. "-XX:TieredStopAtLevel=4" for full JIT
#   when measuring throughput)
#   KAFKA_NODE (cluster only): start just node <id> of the cluster the other knobs describe, e.g. one that was
#   killed: KAFKA_NODES=3 KAFKA_NODE=2 npm run kafka:start
# Replication: one node 1 (min.insync.replicas 1); a cluster min(3, nodes) replicas for every topic, the
# consumer offsets and the transaction log, min.insync.replicas min(2, replicas - 1).
# State of one node: pid file, rendered server.properties, cluster.id and KRaft storage in KAFKA_DATA_DIR;
# kafka.out (this start), kafka.out.1 (previous start) and server.log in KAFKA_LOG_DIR. A cluster: the same
# per node in KAFKA_DATA_DIR/node-<id> and KAFKA_LOG_DIR/node-<id> (pid file KAFKA_DATA_DIR/node-<id>/kafka.pid),
# its shared cluster id and size in KAFKA_DATA_DIR/nodes.properties.
set -euo pipefail

SCRIPT_DIR="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
KAFKA_HOME="$(cd "${SCRIPT_DIR}/.." && pwd)"
# shellcheck source=kafka-lib.sh
source "${SCRIPT_DIR}/kafka-lib.sh"

log() { printf '[kafka-start] %s%s\n' "${NODE_TAG:-}" "$*"; }
die() { printf '[kafka-start] %sERROR: %s\n' "${NODE_TAG:-}" "$*" >&2; exit 1; }

KAFKA_NODES="${KAFKA_NODES:-1}"
KAFKA_NODE="${KAFKA_NODE:-}"
[[ "${KAFKA_NODES}" =~ ^[1-9]$ ]] || die "KAFKA_NODES must be a number of nodes from 1 to 9 (got '${KAFKA_NODES}')"
if [[ -n "${KAFKA_NODE}" ]] && ! { [[ "${KAFKA_NODE}" =~ ^[1-9]$ ]] && ((KAFKA_NODE <= KAFKA_NODES)) && ((KAFKA_NODES > 1)); }; then
  die "KAFKA_NODE must be the id of one node of the cluster, 1 to KAFKA_NODES (got '${KAFKA_NODE}' with KAFKA_NODES=${KAFKA_NODES})"
fi

KAFKA_PORT="${KAFKA_PORT:-9092}"
if ((KAFKA_NODES == 1)); then
  KAFKA_CONTROLLER_PORT="${KAFKA_CONTROLLER_PORT:-9093}"
  KAFKA_HEAP="${KAFKA_HEAP:-512m}"
else
  # Brokers and controllers interleave (9092, 9093, 9094, ...), so the controllers start after the first broker.
  KAFKA_CONTROLLER_PORT="${KAFKA_CONTROLLER_PORT:-$((KAFKA_PORT + 1))}"
  # Three JVMs on a small machine; 384m each is plenty for development traffic.
  KAFKA_HEAP="${KAFKA_HEAP:-384m}"
fi
KAFKA_DATA_DIR="${KAFKA_DATA_DIR:-${KAFKA_HOME}/data}"
KAFKA_LOG_DIR="${KAFKA_LOG_DIR:-${KAFKA_HOME}/logs}"
KAFKA_START_TIMEOUT="${KAFKA_START_TIMEOUT:-90}"
KAFKA_JVM_OPTS="${KAFKA_JVM_OPTS:-}"

LIB_DIR="${KAFKA_HOME}/lib"
LIB_MARKER="${LIB_DIR}/.complete"
POM="${KAFKA_HOME}/pom.xml"
TEMPLATE="${KAFKA_HOME}/server.properties.template"
LOG4J="${KAFKA_HOME}/log4j.properties"
CLASSPATH_GLOB="${LIB_DIR}/*"

port_open() { # port -> 0 if something on 127.0.0.1 accepts a TCP connection
  timeout 2 bash -c "exec 3<>/dev/tcp/127.0.0.1/$1" 2>/dev/null
}

now_ms() { date +%s%3N; }
START_MS="$(now_ms)"
elapsed() { local ms=$(( $(now_ms) - START_MS )); printf '%d.%03ds' $((ms / 1000)) $((ms % 1000)); }

command -v java >/dev/null 2>&1 || die "java not found on PATH (Java 17+ is required)"
mkdir -p "${KAFKA_DATA_DIR}" "${KAFKA_LOG_DIR}"
KAFKA_DATA_DIR="$(cd "${KAFKA_DATA_DIR}" && pwd)"
KAFKA_LOG_DIR="$(cd "${KAFKA_LOG_DIR}" && pwd)"

# --- jars (once) ----------------------------------------------------------------------------------
ensure_jars() {
  local pom_hash
  pom_hash="$(sha256sum "${POM}" | cut -d' ' -f1)"
  if [[ ! -f "${LIB_MARKER}" || "$(cat "${LIB_MARKER}")" != "${pom_hash}" ]]; then
    command -v mvn >/dev/null 2>&1 || die "mvn not found on PATH (needed once to fetch the Kafka jars)"
    log "Copying Kafka jars into ${LIB_DIR} (mvn dependency:copy-dependencies)..."
    rm -rf "${LIB_DIR}"
    if ! mvn -q -B -Dstyle.color=never -f "${POM}" dependency:copy-dependencies >"${KAFKA_LOG_DIR}/mvn.log" 2>&1; then
      tail -n 40 "${KAFKA_LOG_DIR}/mvn.log" >&2 || true
      die "mvn dependency:copy-dependencies failed (full log: ${KAFKA_LOG_DIR}/mvn.log)"
    fi
    compgen -G "${LIB_DIR}/kafka_2.13-*.jar" >/dev/null || die "mvn finished but ${LIB_DIR} has no kafka_2.13 jar"
    printf '%s\n' "${pom_hash}" >"${LIB_MARKER}"
  fi
}

new_cluster_id() {
  java -cp "${CLASSPATH_GLOB}" "-Dlog4j.configuration=file:${LOG4J}" -Dkafka.logs.dir="${KAFKA_LOG_DIR}" \
    kafka.tools.StorageTool random-uuid | tail -n 1 | tr -d '[:space:]'
}

# --- one node -------------------------------------------------------------------------------------
# Starts the node the globals describe and returns once it serves requests; exits (the whole script for a
# single node, the node's subshell on a cluster) on a reuse or an error:
#   NODE_ID NODE_PORT NODE_CONTROLLER_PORT NODE_DATA_DIR NODE_LOG_DIR VOTERS REPLICATION_FACTOR MIN_ISR
#   SHARED_CLUSTER_ID (cluster only: the id every node is formatted with)
start_node() {
  mkdir -p "${NODE_DATA_DIR}" "${NODE_LOG_DIR}"
  PID_FILE="${NODE_DATA_DIR}/kafka.pid"
  OUT_FILE="${NODE_LOG_DIR}/kafka.out"
  PROPS="${NODE_DATA_DIR}/server.properties"
  STORAGE_DIR="${NODE_DATA_DIR}/kraft-logs"
  CLUSTER_ID_FILE="${NODE_DATA_DIR}/cluster.id"

  # --- (a) reuse a node that is already up ---
  reuse_if_up
  # Serialise concurrent invocations (e.g. several test runners calling this at once). The lock is on
  # fd 9, which the broker must not inherit (see the launch below), so it is released when we exit.
  if command -v flock >/dev/null 2>&1; then
    exec 9>"${NODE_DATA_DIR}/kafka.lock"
    flock -w "${KAFKA_START_TIMEOUT}" 9 || die "another kafka-start.sh holds ${NODE_DATA_DIR}/kafka.lock"
    reuse_if_up # a concurrent call may have started it while we waited
  fi

  # Our broker is alive but not yet listening (started by a concurrent/earlier call): wait for it.
  if pid="$(our_pid)"; then
    log "Kafka (pid ${pid}) is starting; waiting for it."
    wait_ready "${pid}"
    log "Kafka broker ready on 127.0.0.1:${NODE_PORT} (waited $(elapsed))."
    exit 0
  fi
  rm -f "${PID_FILE}"

  if port_open "${NODE_CONTROLLER_PORT}"; then
    die "controller port 127.0.0.1:${NODE_CONTROLLER_PORT} is taken by another process (set KAFKA_CONTROLLER_PORT)"
  fi

  # --- (b) jars ---
  ensure_jars

  # --- properties ---
  sed -e "s|@KAFKA_PORT@|${NODE_PORT}|g" \
      -e "s|@KAFKA_CONTROLLER_PORT@|${NODE_CONTROLLER_PORT}|g" \
      -e "s|@KAFKA_LOG_DIRS@|${STORAGE_DIR}|g" \
      -e "s|@NODE_ID@|${NODE_ID}|g" \
      -e "s|@CONTROLLER_QUORUM_VOTERS@|${VOTERS}|g" \
      -e "s|@REPLICATION_FACTOR@|${REPLICATION_FACTOR}|g" \
      -e "s|@MIN_INSYNC_REPLICAS@|${MIN_ISR}|g" \
      "${TEMPLATE}" >"${PROPS}.tmp"
  mv "${PROPS}.tmp" "${PROPS}"

  # JVM: small heap, serial GC and C1 only (measured: starts at least as fast as full tiered
  # compilation here); this is a dev/CI broker on a 2-core machine.
  local xms=256m
  if [[ "${KAFKA_HEAP}" =~ ^([0-9]+)[mM]$ ]] && (( BASH_REMATCH[1] < 256 )); then xms="${KAFKA_HEAP}"; fi
  local -a jvm_flags=(
    "-Xms${xms}" "-Xmx${KAFKA_HEAP}"
    "-XX:+UseSerialGC" "-XX:TieredStopAtLevel=1" "-XX:+ExitOnOutOfMemoryError"
    "-Djava.awt.headless=true"
    "-Dlog4j.configuration=file:${LOG4J}"
    "-Dkafka.logs.dir=${NODE_LOG_DIR}"
  )
  # shellcheck disable=SC2206 # deliberate word splitting of user-supplied flags
  if [[ -n "${KAFKA_JVM_OPTS}" ]]; then jvm_flags+=(${KAFKA_JVM_OPTS}); fi

  # --- (c) format KRaft storage once ---
  if [[ ! -f "${STORAGE_DIR}/meta.properties" ]]; then
    if [[ -n "${SHARED_CLUSTER_ID}" ]]; then
      printf '%s\n' "${SHARED_CLUSTER_ID}" >"${CLUSTER_ID_FILE}"
    elif [[ ! -s "${CLUSTER_ID_FILE}" ]]; then
      new_cluster_id >"${CLUSTER_ID_FILE}.tmp"
      mv "${CLUSTER_ID_FILE}.tmp" "${CLUSTER_ID_FILE}"
    fi
    local cluster_id
    cluster_id="$(cat "${CLUSTER_ID_FILE}")"
    [[ -n "${cluster_id}" ]] || die "could not generate a cluster id"
    log "Formatting KRaft storage in ${STORAGE_DIR} (cluster id ${cluster_id})..."
    java -cp "${CLASSPATH_GLOB}" "-Dlog4j.configuration=file:${LOG4J}" -Dkafka.logs.dir="${NODE_LOG_DIR}" \
      kafka.tools.StorageTool format -t "${cluster_id}" -c "${PROPS}" --ignore-formatted >/dev/null
  elif [[ -n "${SHARED_CLUSTER_ID}" ]]; then
    local formatted
    formatted="$(sed -n 's/^cluster\.id=//p' "${STORAGE_DIR}/meta.properties" | tr -d '[:space:]')"
    # A node formatted for another cluster id would never join the quorum: say so instead of timing out.
    [[ "${formatted}" == "${SHARED_CLUSTER_ID}" ]] ||
      die "${STORAGE_DIR} belongs to cluster ${formatted}, the other nodes to ${SHARED_CLUSTER_ID}; remove ${NODE_DATA_DIR} to start this node afresh"
  fi

  # --- (d) start detached ---
  if [[ -f "${OUT_FILE}" ]]; then mv -f "${OUT_FILE}" "${OUT_FILE}.1"; fi
  log "Starting Kafka on 127.0.0.1:${NODE_PORT} (controller ${NODE_CONTROLLER_PORT}, heap ${KAFKA_HEAP}, data ${NODE_DATA_DIR})..."
  # setsid: own session, so the broker outlives the calling shell / test runner and ignores its Ctrl-C.
  # The inner shell writes its own pid and then exec's the JVM, so the pid file holds the JVM's pid.
  # fds 8 and 9 are the start's locks: the broker must not hold them.
  # shellcheck disable=SC2016 # $$ and $@ are expanded by the inner shell
  PID_FILE="${PID_FILE}" nohup setsid bash -c 'echo $$ >"${PID_FILE}"; exec "$@"' kafka-start \
    java "${jvm_flags[@]}" -cp "${CLASSPATH_GLOB}" kafka.Kafka "${PROPS}" \
    >"${OUT_FILE}" 2>&1 </dev/null 8>&- 9>&- &

  pid=""
  for _ in $(seq 1 100); do
    pid="$(tr -dc '0-9' 2>/dev/null <"${PID_FILE}" || true)"
    if [[ -n "${pid}" ]]; then break; fi
    sleep 0.1
  done
  if [[ -z "${pid}" ]]; then
    tail -n 60 "${OUT_FILE}" >&2 || true
    die "Kafka launcher did not write ${PID_FILE}"
  fi

  # --- (e) wait until it serves requests ---
  wait_ready "${pid}"
  log "Kafka broker ready on 127.0.0.1:${NODE_PORT} (pid ${pid}) in $(elapsed). Log: ${OUT_FILE}"
}

our_pid() { # prints the pid from the pid file if that process is alive and is a kafka.Kafka JVM
  [[ -f "${PID_FILE}" ]] || return 1
  local pid
  pid="$(tr -dc '0-9' <"${PID_FILE}")"
  [[ -n "${pid}" ]] && kill -0 "${pid}" 2>/dev/null || return 1
  tr '\0' ' ' <"/proc/${pid}/cmdline" 2>/dev/null | grep -q 'kafka\.Kafka' || return 1
  printf '%s\n' "${pid}"
}

reuse_if_up() {
  port_open "${NODE_PORT}" || return 0
  if ((KAFKA_NODES == 1)); then
    if pid="$(our_pid)" && grep -q 'Kafka Server started' "${OUT_FILE}" 2>/dev/null; then
      log "Kafka broker already running on 127.0.0.1:${NODE_PORT} (pid ${pid}); reusing it."
    else
      log "Port 127.0.0.1:${NODE_PORT} already accepts connections; assuming a Kafka broker and reusing it."
    fi
    exit 0
  fi
  # A cluster node must be this node: a single broker (the everyday one on 9092) or another cluster's node
  # on the port would leave the other nodes waiting for a quorum they can never reach.
  if kafka_find_on_port "${NODE_PORT}" && kafka_describe "${KAFKA_BROKER_PID}" &&
    [[ "${BROKER_DATA_DIR}" == "${NODE_DATA_DIR}" ]]; then
    if grep -q 'Kafka Server started' "${OUT_FILE}" 2>/dev/null; then
      log "Kafka node already running on 127.0.0.1:${NODE_PORT} (pid ${KAFKA_BROKER_PID}); reusing it."
      exit 0
    fi
    return 0 # ours, still starting: waited for below
  fi
  if [[ -n "${KAFKA_BROKER_PID}" ]]; then
    die "127.0.0.1:${NODE_PORT} is held by another Kafka broker (pid ${KAFKA_BROKER_PID}, data ${BROKER_DATA_DIR:-unknown}), not node ${NODE_ID} of this cluster; stop it (kafka-stop.sh) or choose another KAFKA_PORT"
  fi
  die "127.0.0.1:${NODE_PORT} is held by another process; choose another KAFKA_PORT"
}

wait_ready() { # pid -> waits until the broker serves requests or the deadline passes
  local pid="$1" deadline=$(( $(date +%s) + KAFKA_START_TIMEOUT ))
  while :; do
    if ! kill -0 "${pid}" 2>/dev/null; then
      log "Kafka (pid ${pid}) exited during startup. Last lines of ${OUT_FILE}:"
      tail -n 60 "${OUT_FILE}" >&2 || true
      rm -f "${PID_FILE}"
      exit 1
    fi
    if grep -q 'Kafka Server started' "${OUT_FILE}" 2>/dev/null && port_open "${NODE_PORT}"; then
      return 0
    fi
    if (( $(date +%s) >= deadline )); then
      log "Kafka did not become ready within ${KAFKA_START_TIMEOUT}s (pid ${pid} left running; stop it with kafka-stop.sh). Last lines of ${OUT_FILE}:"
      tail -n 60 "${OUT_FILE}" >&2 || true
      exit 1
    fi
    sleep 0.2
  done
}

# --- one node: exactly the single broker of every earlier version ---------------------------------
if ((KAFKA_NODES == 1)); then
  NODE_ID=1 NODE_PORT="${KAFKA_PORT}" NODE_CONTROLLER_PORT="${KAFKA_CONTROLLER_PORT}"
  NODE_DATA_DIR="${KAFKA_DATA_DIR}" NODE_LOG_DIR="${KAFKA_LOG_DIR}"
  VOTERS="1@127.0.0.1:${KAFKA_CONTROLLER_PORT}" REPLICATION_FACTOR=1 MIN_ISR=1 SHARED_CLUSTER_ID=""
  start_node
  exit 0
fi

# --- a cluster ------------------------------------------------------------------------------------
REPLICATION_FACTOR=$((KAFKA_NODES < 3 ? KAFKA_NODES : 3))
MIN_ISR=$((REPLICATION_FACTOR - 1 < 2 ? REPLICATION_FACTOR - 1 : 2))
VOTERS=""
BROKERS=""
for ((id = 1; id <= KAFKA_NODES; id++)); do
  VOTERS+="${VOTERS:+,}${id}@127.0.0.1:$((KAFKA_CONTROLLER_PORT + 2 * (id - 1)))"
  BROKERS+="${BROKERS:+,}127.0.0.1:$((KAFKA_PORT + 2 * (id - 1)))"
done

# One start of this cluster at a time (fd 8; its nodes' own locks are taken per node on fd 9).
if command -v flock >/dev/null 2>&1; then
  exec 8>"${KAFKA_DATA_DIR}/kafka-nodes.lock"
  flock -w "${KAFKA_START_TIMEOUT}" 8 || die "another kafka-start.sh holds ${KAFKA_DATA_DIR}/kafka-nodes.lock"
fi

if [[ -n "${KAFKA_NODE}" ]]; then ids=("${KAFKA_NODE}"); else mapfile -t ids < <(seq 1 "${KAFKA_NODES}"); fi
# Before starting any node: a port held by something else fails the start at once, not after the timeout.
for id in "${ids[@]}"; do
  port=$((KAFKA_PORT + 2 * (id - 1)))
  port_open "${port}" || continue
  if kafka_find_on_port "${port}" && kafka_describe "${KAFKA_BROKER_PID}" &&
    [[ "${BROKER_DATA_DIR}" == "${KAFKA_DATA_DIR}/node-${id}" ]]; then
    continue
  fi
  if [[ -n "${KAFKA_BROKER_PID}" ]]; then
    die "127.0.0.1:${port} is held by another Kafka broker (pid ${KAFKA_BROKER_PID}, data ${BROKER_DATA_DIR:-unknown}), not node ${id} of this cluster; stop it (kafka-stop.sh) or choose another KAFKA_PORT"
  fi
  die "127.0.0.1:${port} is held by another process, not node ${id} of this cluster; choose another KAFKA_PORT"
done

# The cluster's id and size, shared by its nodes: every node's storage is formatted with the same id, and
# the voters are fixed when the storage is first used, so a size change needs fresh node folders.
NODES_FILE="${KAFKA_DATA_DIR}/nodes.properties"
SHARED_CLUSTER_ID=""
if [[ -f "${NODES_FILE}" ]]; then
  SHARED_CLUSTER_ID="$(sed -n 's/^cluster\.id=//p' "${NODES_FILE}" | tr -d '[:space:]')"
  recorded="$(sed -n 's/^nodes=//p' "${NODES_FILE}" | tr -d '[:space:]')"
  if [[ -n "${recorded}" && "${recorded}" != "${KAFKA_NODES}" ]]; then
    die "${KAFKA_DATA_DIR} holds a cluster of ${recorded} nodes, not ${KAFKA_NODES}; start it with KAFKA_NODES=${recorded}, or remove ${NODES_FILE} and ${KAFKA_DATA_DIR}/node-* (its data) first"
  fi
fi
if [[ -z "${SHARED_CLUSTER_ID}" ]]; then
  ensure_jars
  SHARED_CLUSTER_ID="$(new_cluster_id)"
  [[ -n "${SHARED_CLUSTER_ID}" ]] || die "could not generate a cluster id"
  printf 'cluster.id=%s\nnodes=%s\n' "${SHARED_CLUSTER_ID}" "${KAFKA_NODES}" >"${NODES_FILE}.tmp"
  mv "${NODES_FILE}.tmp" "${NODES_FILE}"
fi
ensure_jars # before the nodes start side by side: they must not race to copy the jars

log "Kafka cluster of ${KAFKA_NODES} nodes (replication factor ${REPLICATION_FACTOR}, min.insync.replicas ${MIN_ISR}, data ${KAFKA_DATA_DIR}): starting node(s) ${ids[*]}..."
declare -A children=()
for id in "${ids[@]}"; do
  (
    NODE_TAG="node ${id}: "
    NODE_ID="${id}" NODE_PORT=$((KAFKA_PORT + 2 * (id - 1))) NODE_CONTROLLER_PORT=$((KAFKA_CONTROLLER_PORT + 2 * (id - 1)))
    NODE_DATA_DIR="${KAFKA_DATA_DIR}/node-${id}" NODE_LOG_DIR="${KAFKA_LOG_DIR}/node-${id}"
    start_node
  ) &
  children[${id}]=$!
done
failed=()
for id in "${ids[@]}"; do
  wait "${children[${id}]}" || failed+=("${id}")
done
if ((${#failed[@]} > 0)); then
  die "node(s) ${failed[*]} did not start (their logs: ${KAFKA_LOG_DIR}/node-<id>/kafka.out); the nodes that did keep running (kafka-stop.sh stops them)"
fi

# A node is ready once it is registered and unfenced; the other nodes learn of it a moment later. Return only
# once every node that is up lists all of them, so a client connecting right away (a service counting the
# brokers to replicate its topics by) sees the whole cluster. (KAFKA_NODE with another node down: the ones up.)
metadata_brokers() { # port -> how many brokers the broker on it knows (a Kafka Metadata v1 request, no topics)
  # shellcheck disable=SC2016 # $1 is the inner shell's
  timeout 2 bash -c 'exec 3<>"/dev/tcp/127.0.0.1/$1" || exit 1
    printf "\x00\x00\x00\x10\x00\x03\x00\x01\x00\x00\x00\x01\x00\x02ks\x00\x00\x00\x00" >&3
    od -An -tu1 -j8 -N4 <&3' _ "$1" 2>/dev/null | awk 'NF == 4 { print $1 * 16777216 + $2 * 65536 + $3 * 256 + $4 }'
}
up=()
for ((id = 1; id <= KAFKA_NODES; id++)); do
  if port_open $((KAFKA_PORT + 2 * (id - 1))); then up+=($((KAFKA_PORT + 2 * (id - 1)))); fi
done
deadline=$(($(date +%s) + KAFKA_START_TIMEOUT))
for port in "${up[@]}"; do
  until [[ "$(metadata_brokers "${port}")" == "${#up[@]}" ]]; do
    (($(date +%s) < deadline)) ||
      die "127.0.0.1:${port} lists $(metadata_brokers "${port}" || true) brokers, not the ${#up[@]} that are up, after ${KAFKA_START_TIMEOUT}s"
    sleep 0.1
  done
done
if ((${#up[@]} < KAFKA_NODES)); then log "Only ${#up[@]} of the ${KAFKA_NODES} nodes are up."; fi
log "Kafka cluster ready in $(elapsed): KAFKA_BROKERS=${BROKERS}"
