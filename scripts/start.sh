#!/usr/bin/env bash
# `npm start`: set everything up, then run the three services with prefixed logs until Ctrl-C.
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"

ensure_dependencies
ensure_postgres
ensure_kafka
build

RS_PORT="${RELEASE_SERVICE_PORT:-3001}"
AR_PORT="${AUDIT_RECORDER_PORT:-3002}"
AS_PORT="${AUDIT_STREAMER_PORT:-3003}"

cat <<MSG

  release-service  http://127.0.0.1:${RS_PORT}   (GET /health, /ready; API under /api/v4)
  audit-recorder   http://127.0.0.1:${AR_PORT}
  audit-streamer   http://127.0.0.1:${AS_PORT}
  mint a token:    npm run token -- --user 1 --name alice --admin
  stop:            Ctrl-C (Kafka keeps running; npm run kafka:stop stops it)

MSG

# Each service reads only its own PORT; concurrently forwards Ctrl-C (SIGINT) to all of them,
# and each shuts down gracefully (consumers commit their in-flight chunk first).
exec npx concurrently --kill-others-on-fail --names release-service,audit-recorder,audit-streamer \
  --prefix-colors blue,green,magenta --prefix '[{name}]' \
  "PORT=${RS_PORT} exec node --enable-source-maps dist/apps/release-service/src/main.js" \
  "PORT=${AR_PORT} exec node --enable-source-maps --max-semi-space-size=4 dist/apps/audit-recorder/src/main.js" \
  "PORT=${AS_PORT} exec node --enable-source-maps dist/apps/audit-streamer/src/main.js"
