# syntax=docker/dockerfile:1
# The release service: releases and groups, event-sourced, publishing domain events through its outbox.
# Build from the repository root:  docker build -f deploy/release-service.Dockerfile -t audit/release-service .
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
RUN npm run build && test -f dist/apps/release-service/src/main.js && test -f dist/tools/db-setup.js

# ---- runtime: production dependencies, compiled code, the audit event type registry -------------
FROM ${NODE_IMAGE} AS runtime
ENV NODE_ENV=production \
    NPM_CONFIG_UPDATE_NOTIFIER=false NPM_CONFIG_FUND=false NPM_CONFIG_AUDIT=false \
    HOST=0.0.0.0 \
    PORT=3001
WORKDIR /app
COPY package.json package-lock.json ./
RUN --mount=type=cache,target=/root/.npm npm ci --omit=dev
COPY --from=build /app/dist ./dist
# config/audit_events/types/*.yml is read at runtime.
COPY config ./config

USER node
EXPOSE 3001
# Liveness: GET /health on the service's own port (slim images have no curl).
HEALTHCHECK --interval=15s --timeout=5s --start-period=30s --retries=3 \
  CMD ["node", "-e", "require('http').get({ host: '127.0.0.1', port: process.env.PORT, path: '/health', timeout: 4000 }, (r) => process.exit(r.statusCode === 200 ? 0 : 1)).on('error', () => process.exit(1)).on('timeout', () => process.exit(1))"]
CMD ["node", "dist/apps/release-service/src/main.js"]
