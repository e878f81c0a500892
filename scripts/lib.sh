#!/usr/bin/env bash
# Shared set-up of `npm start` and `npm test`: dependencies, Kafka, PostgreSQL, a fresh build.
set -euo pipefail
ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$ROOT"

log() { printf '\033[1m[setup]\033[0m %s\n' "$*"; }

ensure_dependencies() {
  # npm ci when node_modules is missing or older than the lockfile.
  if [ ! -f node_modules/.package-lock.json ] || [ package-lock.json -nt node_modules/.package-lock.json ]; then
    log "installing npm dependencies (npm ci)"
    npm ci --no-audit --no-fund
  fi
}

ensure_postgres() {
  # The superuser is needed for one thing: the services' roles and databases (npm run db:setup).
  local url="${DATABASE_ADMIN_URL:-postgres://postgres@127.0.0.1:5432/postgres}"
  log "checking PostgreSQL at ${url%%@*}@…"
  node -e "
    const { Client } = require('pg');
    const c = new Client({ connectionString: process.argv[1], connectionTimeoutMillis: 5000 });
    c.connect().then(() => c.end()).catch((e) => { console.error('PostgreSQL is not reachable: ' + e.message); process.exit(1); });
  " "$url"
  log "database roles and databases (npm run db:setup)"
  DATABASE_ADMIN_URL="$url" node -r @swc-node/register tools/db-setup.ts
}

ensure_kafka() {
  if [ -n "${KAFKA_BROKERS:-}" ] && [ "${KAFKA_BROKERS}" != "127.0.0.1:9092" ]; then
    log "using the Kafka brokers of KAFKA_BROKERS=${KAFKA_BROKERS}"
    return
  fi
  bash deploy/kafka-local/scripts/kafka-start.sh
}

build() {
  log "building (SWC)"
  rm -rf dist
  npm run --silent build >/dev/null
}

# Installs Debian package $2 when command $1 is missing (as root, or through sudo), or exits naming $3.
ensure_debian_package() {
  local command="$1" package="$2" what="$3"
  if command -v "$command" >/dev/null 2>&1; then return; fi
  log "installing $package (apt-get)"
  local sudo=""
  [ "$(id -u)" -eq 0 ] || sudo="sudo"
  $sudo apt-get install -y -q "$package" >/dev/null 2>&1 || { $sudo apt-get update -q >/dev/null && $sudo apt-get install -y -q "$package" >/dev/null; }
  command -v "$command" >/dev/null 2>&1 || { echo "$what is required by the tests and could not be installed" >&2; exit 1; }
}

ensure_openssl() {
  # The SASL_SSL broker of the integration tests gets its CA and certificate from openssl, made at test time.
  ensure_debian_package openssl openssl openssl
}

ensure_prometheus() {
  # promtool checks the alert rules and the dashboard's queries (deploy/prometheus.spec.ts); the prometheus
  # server backs the integration test of startPrometheus (@audit/testing), which runs its own on a free port.
  # Debian's package also installs a systemd unit that would serve on :9090; nothing here uses that service
  # (and without systemd it does not start at all).
  ensure_debian_package promtool prometheus "promtool (Debian package prometheus)"
}
