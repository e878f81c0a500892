#!/usr/bin/env bash
# Starts a single-node Apache Kafka broker (KRaft, combined broker + controller) from the jars that
# deploy/kafka-local/pom.xml resolves from Maven Central. No Docker needed.
#
# Idempotent:
#   - if something already accepts connections on KAFKA_PORT, it is reused (no-op, exit 0);
#   - if our broker (pid file) is alive but still starting, waits for it instead of starting another;
#   - jars are copied once (lib/.complete marker, refreshed when pom.xml changes);
#   - KRaft storage is formatted once (meta.properties), the cluster id kept in the data folder.
#
# Env knobs (defaults):
#   KAFKA_PORT=9092  KAFKA_CONTROLLER_PORT=9093  KAFKA_DATA_DIR=deploy/kafka-local/data
#   KAFKA_LOG_DIR=deploy/kafka-local/logs  KAFKA_HEAP=512m  KAFKA_START_TIMEOUT=90 (seconds)
#   KAFKA_JVM_OPTS (extra JVM flags, appended, so they win: e.g. "-XX:TieredStopAtLevel=4" for full JIT
#   when measuring throughput)
# State: pid file, rendered server.properties, cluster.id and KRaft storage in KAFKA_DATA_DIR;
# kafka.out (this start), kafka.out.1 (previous start) and server.log in KAFKA_LOG_DIR.
set -euo pipefail

SCRIPT_DIR="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
KAFKA_HOME="$(cd "${SCRIPT_DIR}/.." && pwd)"

KAFKA_PORT="${KAFKA_PORT:-9092}"
KAFKA_CONTROLLER_PORT="${KAFKA_CONTROLLER_PORT:-9093}"
KAFKA_DATA_DIR="${KAFKA_DATA_DIR:-${KAFKA_HOME}/data}"
KAFKA_LOG_DIR="${KAFKA_LOG_DIR:-${KAFKA_HOME}/logs}"
KAFKA_HEAP="${KAFKA_HEAP:-512m}"
KAFKA_START_TIMEOUT="${KAFKA_START_TIMEOUT:-90}"
KAFKA_JVM_OPTS="${KAFKA_JVM_OPTS:-}"

LIB_DIR="${KAFKA_HOME}/lib"
LIB_MARKER="${LIB_DIR}/.complete"
POM="${KAFKA_HOME}/pom.xml"
TEMPLATE="${KAFKA_HOME}/server.properties.template"
LOG4J="${KAFKA_HOME}/log4j.properties"

log() { printf '[kafka-start] %s\n' "$*"; }
die() { printf '[kafka-start] ERROR: %s\n' "$*" >&2; exit 1; }

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
PID_FILE="${KAFKA_DATA_DIR}/kafka.pid"
OUT_FILE="${KAFKA_LOG_DIR}/kafka.out"
PROPS="${KAFKA_DATA_DIR}/server.properties"
STORAGE_DIR="${KAFKA_DATA_DIR}/kraft-logs"
CLUSTER_ID_FILE="${KAFKA_DATA_DIR}/cluster.id"

our_pid() { # prints the pid from the pid file if that process is alive and is a kafka.Kafka JVM
  [[ -f "${PID_FILE}" ]] || return 1
  local pid
  pid="$(tr -dc '0-9' <"${PID_FILE}")"
  [[ -n "${pid}" ]] && kill -0 "${pid}" 2>/dev/null || return 1
  tr '\0' ' ' <"/proc/${pid}/cmdline" 2>/dev/null | grep -q 'kafka\.Kafka' || return 1
  printf '%s\n' "${pid}"
}

# --- (a) reuse a broker that is already up --------------------------------------------------------
reuse_if_up() {
  if port_open "${KAFKA_PORT}"; then
    if pid="$(our_pid)" && grep -q 'Kafka Server started' "${OUT_FILE}" 2>/dev/null; then
      log "Kafka broker already running on 127.0.0.1:${KAFKA_PORT} (pid ${pid}); reusing it."
    else
      log "Port 127.0.0.1:${KAFKA_PORT} already accepts connections; assuming a Kafka broker and reusing it."
    fi
    exit 0
  fi
}
reuse_if_up

# Serialise concurrent invocations (e.g. several test runners calling this at once). The lock is on
# fd 9, which the broker must not inherit (see the launch below), so it is released when we exit.
if command -v flock >/dev/null 2>&1; then
  exec 9>"${KAFKA_DATA_DIR}/kafka.lock"
  flock -w "${KAFKA_START_TIMEOUT}" 9 || die "another kafka-start.sh holds ${KAFKA_DATA_DIR}/kafka.lock"
  reuse_if_up # a concurrent call may have started it while we waited
fi

wait_ready() { # pid -> waits until the broker serves requests or the deadline passes
  local pid="$1" deadline=$(( $(date +%s) + KAFKA_START_TIMEOUT ))
  while :; do
    if ! kill -0 "${pid}" 2>/dev/null; then
      log "Kafka (pid ${pid}) exited during startup. Last lines of ${OUT_FILE}:"
      tail -n 60 "${OUT_FILE}" >&2 || true
      rm -f "${PID_FILE}"
      exit 1
    fi
    if grep -q 'Kafka Server started' "${OUT_FILE}" 2>/dev/null && port_open "${KAFKA_PORT}"; then
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

# Our broker is alive but not yet listening (started by a concurrent/earlier call): wait for it.
if pid="$(our_pid)"; then
  log "Kafka (pid ${pid}) is starting; waiting for it."
  wait_ready "${pid}"
  log "Kafka broker ready on 127.0.0.1:${KAFKA_PORT} (waited $(elapsed))."
  exit 0
fi
rm -f "${PID_FILE}"

if port_open "${KAFKA_CONTROLLER_PORT}"; then
  die "controller port 127.0.0.1:${KAFKA_CONTROLLER_PORT} is taken by another process (set KAFKA_CONTROLLER_PORT)"
fi

# --- (b) jars -------------------------------------------------------------------------------------
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
CLASSPATH_GLOB="${LIB_DIR}/*"

# --- properties -----------------------------------------------------------------------------------
sed -e "s|@KAFKA_PORT@|${KAFKA_PORT}|g" \
    -e "s|@KAFKA_CONTROLLER_PORT@|${KAFKA_CONTROLLER_PORT}|g" \
    -e "s|@KAFKA_LOG_DIRS@|${STORAGE_DIR}|g" \
    "${TEMPLATE}" >"${PROPS}.tmp"
mv "${PROPS}.tmp" "${PROPS}"

# JVM: small heap, serial GC and C1 only (measured: starts at least as fast as full tiered
# compilation here); this is a dev/CI broker on a 2-core machine.
xms=256m
if [[ "${KAFKA_HEAP}" =~ ^([0-9]+)[mM]$ ]] && (( BASH_REMATCH[1] < 256 )); then xms="${KAFKA_HEAP}"; fi
JVM_FLAGS=(
  "-Xms${xms}" "-Xmx${KAFKA_HEAP}"
  "-XX:+UseSerialGC" "-XX:TieredStopAtLevel=1" "-XX:+ExitOnOutOfMemoryError"
  "-Djava.awt.headless=true"
  "-Dlog4j.configuration=file:${LOG4J}"
  "-Dkafka.logs.dir=${KAFKA_LOG_DIR}"
)
# shellcheck disable=SC2206 # deliberate word splitting of user-supplied flags
if [[ -n "${KAFKA_JVM_OPTS}" ]]; then JVM_FLAGS+=(${KAFKA_JVM_OPTS}); fi

# --- (c) format KRaft storage once ----------------------------------------------------------------
if [[ ! -f "${STORAGE_DIR}/meta.properties" ]]; then
  if [[ ! -s "${CLUSTER_ID_FILE}" ]]; then
    java -cp "${CLASSPATH_GLOB}" "-Dlog4j.configuration=file:${LOG4J}" -Dkafka.logs.dir="${KAFKA_LOG_DIR}" \
      kafka.tools.StorageTool random-uuid | tail -n 1 | tr -d '[:space:]' >"${CLUSTER_ID_FILE}.tmp"
    mv "${CLUSTER_ID_FILE}.tmp" "${CLUSTER_ID_FILE}"
  fi
  cluster_id="$(cat "${CLUSTER_ID_FILE}")"
  [[ -n "${cluster_id}" ]] || die "could not generate a cluster id"
  log "Formatting KRaft storage in ${STORAGE_DIR} (cluster id ${cluster_id})..."
  java -cp "${CLASSPATH_GLOB}" "-Dlog4j.configuration=file:${LOG4J}" -Dkafka.logs.dir="${KAFKA_LOG_DIR}" \
    kafka.tools.StorageTool format -t "${cluster_id}" -c "${PROPS}" --ignore-formatted >/dev/null
fi

# --- (d) start detached ---------------------------------------------------------------------------
if [[ -f "${OUT_FILE}" ]]; then mv -f "${OUT_FILE}" "${OUT_FILE}.1"; fi
log "Starting Kafka on 127.0.0.1:${KAFKA_PORT} (controller ${KAFKA_CONTROLLER_PORT}, heap ${KAFKA_HEAP}, data ${KAFKA_DATA_DIR})..."
# setsid: own session, so the broker outlives the calling shell / test runner and ignores its Ctrl-C.
# The inner shell writes its own pid and then exec's the JVM, so the pid file holds the JVM's pid.
# shellcheck disable=SC2016 # $$ and $@ are expanded by the inner shell
PID_FILE="${PID_FILE}" nohup setsid bash -c 'echo $$ >"${PID_FILE}"; exec "$@"' kafka-start \
  java "${JVM_FLAGS[@]}" -cp "${CLASSPATH_GLOB}" kafka.Kafka "${PROPS}" \
  >"${OUT_FILE}" 2>&1 </dev/null 9>&- &

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

# --- (e) wait until it serves requests ------------------------------------------------------------
wait_ready "${pid}"
log "Kafka broker ready on 127.0.0.1:${KAFKA_PORT} (pid ${pid}) in $(elapsed). Log: ${OUT_FILE}"
