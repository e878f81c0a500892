#!/usr/bin/env bash
# Stops the local Kafka broker that listens on 127.0.0.1:KAFKA_PORT (default 9092), whichever checkout's
# kafka-start.sh started it: the broker is found by its listening port (ss, else lsof, else /proc; see
# kafka-lib.sh), not only by this checkout's pid file. If nothing listens on the port, the pid file in
# KAFKA_DATA_DIR is used (a broker of ours that is still starting).
# SIGTERM (controlled shutdown), wait up to KAFKA_STOP_TIMEOUT seconds (default 30), then SIGKILL.
# Only a kafka.Kafka JVM is ever signalled.
#
# Exit status: 0 once no broker runs (also when none was running); 1 if the port is held by something that
# is not a Kafka broker, or by a process this user cannot see or signal (then nothing is signalled).
# A broker started from another checkout is restarted with that checkout's kafka-start.sh and knobs: this
# script prints the command, and kafka-which.sh prints the knobs (libs/platform/testing broker.ts uses it).
#
# Env knobs (defaults): KAFKA_PORT=9092  KAFKA_DATA_DIR=deploy/kafka-local/data  KAFKA_STOP_TIMEOUT=30
set -euo pipefail

SCRIPT_DIR="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
KAFKA_HOME="$(cd "${SCRIPT_DIR}/.." && pwd)"
KAFKA_PORT="${KAFKA_PORT:-9092}"
KAFKA_DATA_DIR="${KAFKA_DATA_DIR:-${KAFKA_HOME}/data}"
KAFKA_STOP_TIMEOUT="${KAFKA_STOP_TIMEOUT:-30}"
# shellcheck source=kafka-lib.sh
source "${SCRIPT_DIR}/kafka-lib.sh"

log() { printf '[kafka-stop] %s\n' "$*"; }
die() { printf '[kafka-stop] ERROR: %s\n' "$*" >&2; exit 1; }

port_open() { # port -> 0 if something on 127.0.0.1 accepts a TCP connection
  timeout 2 bash -c "exec 3<>/dev/tcp/127.0.0.1/$1" 2>/dev/null
}

# --- which broker: the one on the port, else the one in our pid file ------------------------------
pid=""
data_dir="${KAFKA_DATA_DIR}"
if kafka_find_on_port "${KAFKA_PORT}"; then
  pid="${KAFKA_BROKER_PID}"
  kafka_describe "${pid}" || true
  if [[ -n "${BROKER_DATA_DIR}" ]]; then data_dir="${BROKER_DATA_DIR}"; fi
elif [[ -n "${KAFKA_LISTENER_OTHER}" ]]; then
  die "127.0.0.1:${KAFKA_PORT} is held by pid ${KAFKA_LISTENER_OTHER% } ($(tr '\0' ' ' <"/proc/${KAFKA_LISTENER_OTHER%% *}/cmdline" 2>/dev/null | cut -c1-120)), not a Kafka broker; not signalling it."
elif port_open "${KAFKA_PORT}"; then
  die "something accepts connections on 127.0.0.1:${KAFKA_PORT}, but no process of $(id -un) listens there (another user's broker, a container?); cannot stop it."
fi

if [[ -d "${data_dir}" ]] && command -v flock >/dev/null 2>&1; then
  # Same lock as kafka-start.sh (of the broker's own data folder), so a stop never races a concurrent start.
  exec 9>>"${data_dir}/kafka.lock"
  flock -w 15 9 || log "${data_dir}/kafka.lock is held (a start in progress?); stopping anyway."
fi
PID_FILE="${data_dir}/kafka.pid"

# A start that held the lock may have brought the broker up meanwhile.
if [[ -z "${pid}" ]] && kafka_find_on_port "${KAFKA_PORT}"; then
  pid="${KAFKA_BROKER_PID}"
  kafka_describe "${pid}" || true
  if [[ -n "${BROKER_DATA_DIR}" && "${BROKER_DATA_DIR}" != "${data_dir}" ]]; then
    data_dir="${BROKER_DATA_DIR}"
    PID_FILE="${data_dir}/kafka.pid"
  fi
fi

if [[ -z "${pid}" ]]; then
  if [[ ! -f "${PID_FILE}" ]]; then
    log "Kafka is not running (nothing listens on 127.0.0.1:${KAFKA_PORT}, no ${PID_FILE})."
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
  log "Nothing listens on 127.0.0.1:${KAFKA_PORT}; stopping the broker of ${PID_FILE} (pid ${pid}, still starting?)."
elif ! kill -0 "${pid}" 2>/dev/null; then
  log "Kafka (pid ${pid}) exited meanwhile."
  exit 0
else
  log "Kafka on 127.0.0.1:${KAFKA_PORT} is pid ${pid}, started from ${BROKER_HOME:-an unknown checkout} (data ${data_dir})."
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
  sleep 0.2
done
if [[ "$(tr -dc '0-9' 2>/dev/null <"${PID_FILE}" || true)" == "${pid}" ]]; then rm -f "${PID_FILE}"; fi
log "Kafka stopped ($(($(date +%s) - start_s))s)."
if [[ -n "${BROKER_HOME:-}" && "${BROKER_HOME}" != "${KAFKA_HOME}" ]]; then
  log "It was started from another checkout; to start that broker again:"
  log "  KAFKA_PORT=${KAFKA_PORT} KAFKA_CONTROLLER_PORT=${BROKER_CONTROLLER_PORT:-?} KAFKA_DATA_DIR=${data_dir}" \
    "KAFKA_LOG_DIR=${BROKER_LOG_DIR:-?} KAFKA_HEAP=${BROKER_HEAP:-512m}${BROKER_JVM_OPTS:+ KAFKA_JVM_OPTS=\"${BROKER_JVM_OPTS}\"}" \
    "bash ${BROKER_HOME}/scripts/kafka-start.sh"
fi
