#!/usr/bin/env bash
# `npm start`: set everything up, then run the three services with prefixed logs until Ctrl-C.
# REPLICAS=N runs N instances of each service: instance i on its base port + 10·i.
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"

REPLICAS="${REPLICAS:-1}"
if ! [[ "$REPLICAS" =~ ^[1-9][0-9]{0,2}$ ]]; then
  echo "REPLICAS must be a positive integer (at most 999), got '${REPLICAS}'" >&2
  exit 64
fi

ensure_dependencies
ensure_postgres
ensure_kafka
build

RS_PORT="${RELEASE_SERVICE_PORT:-3001}"
AR_PORT="${AUDIT_RECORDER_PORT:-3002}"
AS_PORT="${AUDIT_STREAMER_PORT:-3003}"

if [ "$REPLICAS" -eq 1 ]; then
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
fi

# Replicas of one recorder must not append to one file (each serialises only its own appends):
# each gets its own, {instance} being replaced by its INSTANCE_NAME. stdout and templates pass as given.
audit_log="${AUDIT_LOG_FILE:-log/audit_json.log}"
case "$audit_log" in
  -|stdout|*'{instance}'*) ;;
  *.log) audit_log="${audit_log%.log}.{instance}.log" ;;
  *) audit_log="${audit_log}.{instance}" ;;
esac

names=()
colors=()
commands=()
urls=""
for ((i = 0; i < REPLICAS; i++)); do
  offset=$((10 * i))
  for service in release-service audit-recorder audit-streamer; do
    case "$service" in
      release-service) port=$((RS_PORT + offset)); color=blue; flags="" ;;
      audit-recorder) port=$((AR_PORT + offset)); color=green; flags="--max-semi-space-size=4" ;;
      audit-streamer) port=$((AS_PORT + offset)); color=magenta; flags="" ;;
    esac
    instance="${service}-${i}"
    env="PORT=${port} INSTANCE_NAME=${instance}"
    # Single-quoted for the POSIX shell concurrently runs each command with.
    [ "$service" = audit-recorder ] && env="${env} AUDIT_LOG_FILE='${audit_log//\'/\'\\\'\'}'"
    names+=("$instance")
    colors+=("$color")
    commands+=("${env} exec node --enable-source-maps ${flags} dist/apps/${service}/src/main.js")
    urls="${urls}$(printf '  %-18s http://127.0.0.1:%s' "$instance" "$port")"$'\n'
  done
done

cat <<MSG

${urls}  (each: GET /health, /ready; release-service API under /api/v4; recorder JSON logs: ${audit_log})
  mint a token:      npm run token -- --user 1 --name alice --admin
  stop:              Ctrl-C (Kafka keeps running; npm run kafka:stop stops it)

MSG

# As above: concurrently forwards Ctrl-C to every instance, each shuts down gracefully. Replicas of a
# consumer share its group (the partitions are split between them) and the outbox relays elect a leader.
exec npx concurrently --kill-others-on-fail --names "$(IFS=,; echo "${names[*]}")" \
  --prefix-colors "$(IFS=,; echo "${colors[*]}")" --prefix '[{name}]' "${commands[@]}"
