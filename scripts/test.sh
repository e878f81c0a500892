#!/usr/bin/env bash
# `npm test`: the same set-up as `npm start` (reusing a broker already up), then the whole suite:
# type check, lint (module boundaries), unit, integration (real Kafka + PostgreSQL), end-to-end,
# and the fault-injection suite's short profile.
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"

started=$(date +%s)
ensure_dependencies
ensure_postgres
ensure_kafka
ensure_openssl
ensure_prometheus

log "type check"
npx tsc -p tsconfig.json
log "lint (includes @nx/enforce-module-boundaries)"
npm run --silent lint
log "unit tests"
npx jest --selectProjects unit
log "integration and end-to-end tests (real Kafka and PostgreSQL)"
npx jest --selectProjects integration e2e --runInBand
log "fault-injection suite, short profile (FAULTS_PROFILE=full npm run test:faults for the full one)"
build
FAULTS_PROFILE="${FAULTS_PROFILE:-short}" npx jest --selectProjects faults --runInBand
log "all green in $(( $(date +%s) - started )) s"
