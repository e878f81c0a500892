#!/usr/bin/env bash
# `npm run test:faults`: the fault-injection suite (faults/README.md). The real services run as
# processes against the real Kafka and PostgreSQL; each scenario injects one fault and checks,
# event by event, that nothing was lost or duplicated. FAULTS_PROFILE=short is the CI version.
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"

ensure_dependencies
ensure_postgres
ensure_kafka
build
log "fault-injection suite (profile: ${FAULTS_PROFILE:-full})"
npx jest --selectProjects faults --runInBand "$@"
