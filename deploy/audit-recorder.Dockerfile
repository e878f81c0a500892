# syntax=docker/dockerfile:1
# The audit recorder: consumes domain events, stores audit events in PostgreSQL and appends them to a JSON log.
# Build from the repository root:  docker build -f deploy/audit-recorder.Dockerfile -t audit/audit-recorder .
# The deps and build stages are identical in the three service Dockerfiles, so BuildKit builds them once.

ARG NODE_IMAGE=node:20-bookworm-slim

# ---- deps: every dependency, dev included (SWC, Nx) -----------------------------------------------
FROM ${NODE_IMAGE} AS deps
WORKDIR /app
ENV NPM_CONFIG_UPDATE_NOTIFIER=false NPM_CONFIG_FUND=false NPM_CONFIG_AUDIT=false
COPY package.json package-lock.json ./
RUN --mount=type=cache,target=/root/.npm npm ci

# ---- build: SWC compiles apps/ and libs/ into dist/ ------------------------------------------------
FROM deps AS build
COPY tsconfig.base.json tsconfig.json .swcrc nx.json ./
COPY config ./config
COPY libs ./libs
COPY apps ./apps
COPY tools ./tools
RUN npm run build && test -f dist/apps/audit-recorder/src/main.js

# ---- runtime: production dependencies, compiled code, the audit event type registry -------------
FROM ${NODE_IMAGE} AS runtime
ENV NODE_ENV=production \
    NPM_CONFIG_UPDATE_NOTIFIER=false NPM_CONFIG_FUND=false NPM_CONFIG_AUDIT=false \
    HOST=0.0.0.0 \
    PORT=3002
WORKDIR /app
COPY package.json package-lock.json ./
RUN --mount=type=cache,target=/root/.npm npm ci --omit=dev
COPY --from=build /app/dist ./dist
# config/audit_events/types/*.yml is read at runtime. config/audit_signing/ (the public development key) comes
# along but is never used here: with NODE_ENV=production the recorder refuses to start without AUDIT_SIGNING_KEY_FILE.
COPY config ./config

# AUDIT_LOG_FILE defaults to log/audit_json.log relative to /app; the folder must be writable by `node`
# (a named volume mounted here inherits this ownership on first use).
RUN mkdir -p /app/log && chown node:node /app/log

USER node
EXPOSE 3002
# Liveness: GET /health on the service's own port (slim images have no curl).
HEALTHCHECK --interval=15s --timeout=5s --start-period=30s --retries=3 \
  CMD ["node", "-e", "require('http').get({ host: '127.0.0.1', port: process.env.PORT, path: '/health', timeout: 4000 }, (r) => process.exit(r.statusCode === 200 ? 0 : 1)).on('error', () => process.exit(1)).on('timeout', () => process.exit(1))"]
# A 4 MB young generation: lower peak RSS and higher catch-up throughput (bench/recorder.bench.ts).
CMD ["node", "--max-semi-space-size=4", "dist/apps/audit-recorder/src/main.js"]
