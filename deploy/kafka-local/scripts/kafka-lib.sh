#!/usr/bin/env bash
# Shared by kafka-stop.sh and kafka-which.sh (sourced, not run): finds the broker that listens on a port,
# whichever checkout started it, and reads back the knobs it was started with.
#
# A broker started by kafka-start.sh is a JVM whose command line is
#   java <-Xms> -Xmx<KAFKA_HEAP> ... -Dlog4j.configuration=file:<KAFKA_HOME>/log4j.properties
#        -Dkafka.logs.dir=<KAFKA_LOG_DIR> [KAFKA_JVM_OPTS...] -cp <KAFKA_HOME>/lib/* kafka.Kafka <KAFKA_DATA_DIR>/server.properties
# so its checkout (KAFKA_HOME), data and log folders, heap and extra flags can be read from /proc/<pid>/cmdline,
# and the controller port from the server.properties it runs with.
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

# pid -> sets BROKER_HOME, BROKER_DATA_DIR, BROKER_LOG_DIR, BROKER_HEAP, BROKER_CONTROLLER_PORT and
# BROKER_JVM_OPTS from the broker's command line (empty when not found there)
kafka_describe() {
  local -a args=()
  local i arg after_logs=0 props=""
  mapfile -d '' -t args <"/proc/$1/cmdline" || return 1
  BROKER_HOME="" BROKER_DATA_DIR="" BROKER_LOG_DIR="" BROKER_HEAP="" BROKER_CONTROLLER_PORT="" BROKER_JVM_OPTS=""
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
      BROKER_CONTROLLER_PORT="$(sed -n 's/^controller\.quorum\.voters=.*:\([0-9][0-9]*\)[[:space:]]*$/\1/p' "${props}" | head -n 1)"
    fi
  fi
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
