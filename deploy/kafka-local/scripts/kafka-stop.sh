#!/usr/bin/env bash
# Stops the local Kafka broker started by kafka-start.sh (pid file in KAFKA_DATA_DIR).
# SIGTERM (controlled shutdown), wait up to KAFKA_STOP_TIMEOUT seconds (default 30), then SIGKILL.
# No-op if it is not running. Only the pid from the pid file is signalled, and only if that process
# is a kafka.Kafka JVM.
set -euo pipefail

SCRIPT_DIR="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
KAFKA_HOME="$(cd "${SCRIPT_DIR}/.." && pwd)"
KAFKA_DATA_DIR="${KAFKA_DATA_DIR:-${KAFKA_HOME}/data}"
KAFKA_STOP_TIMEOUT="${KAFKA_STOP_TIMEOUT:-30}"
PID_FILE="${KAFKA_DATA_DIR}/kafka.pid"

log() { printf '[kafka-stop] %s\n' "$*"; }

if [[ -d "${KAFKA_DATA_DIR}" ]] && command -v flock >/dev/null 2>&1; then
  # Same lock as kafka-start.sh, so a stop never races a concurrent start over the pid file.
  exec 9>"${KAFKA_DATA_DIR}/kafka.lock"
  flock -w 15 9 || log "${KAFKA_DATA_DIR}/kafka.lock is held (a start in progress?); stopping anyway."
fi

if [[ ! -f "${PID_FILE}" ]]; then
  log "Kafka is not running (no ${PID_FILE})."
  exit 0
fi

pid="$(tr -dc '0-9' <"${PID_FILE}")"
if [[ -z "${pid}" ]] || ! kill -0 "${pid}" 2>/dev/null; then
  log "Kafka is not running (stale pid file removed)."
  rm -f "${PID_FILE}"
  exit 0
fi
if ! tr '\0' ' ' <"/proc/${pid}/cmdline" 2>/dev/null | grep -q 'kafka\.Kafka'; then
  log "pid ${pid} from ${PID_FILE} is not a Kafka broker; removing the stale pid file, not signalling it."
  rm -f "${PID_FILE}"
  exit 0
fi

start_s="$(date +%s)"
log "Stopping Kafka (pid ${pid})..."
kill -TERM "${pid}" 2>/dev/null || true
deadline=$(( start_s + KAFKA_STOP_TIMEOUT ))
while kill -0 "${pid}" 2>/dev/null; do
  if (( $(date +%s) >= deadline )); then
    log "Kafka did not stop within ${KAFKA_STOP_TIMEOUT}s; sending SIGKILL."
    kill -KILL "${pid}" 2>/dev/null || true
    sleep 0.5
    break
  fi
  sleep 0.2
done
if [[ "$(tr -dc '0-9' 2>/dev/null <"${PID_FILE}" || true)" == "${pid}" ]]; then rm -f "${PID_FILE}"; fi
log "Kafka stopped ($(( $(date +%s) - start_s ))s)."
