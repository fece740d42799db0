# syntax=docker/dockerfile:1
# loopbridge production image. Build: docker build -t loopbridge .
# Run:   docker run -v ./deploy/loopbridge.yaml:/config/loopbridge.yaml:ro -e LOOP_TOKEN=… loopbridge
# What the runtime stage runs is exercised without a container engine by test/e2e/image.test.ts.

# ---- build: compile TypeScript to dist/ -------------------------------------------------------------
FROM node:20-bookworm-slim AS build
WORKDIR /app
COPY package.json package-lock.json ./
# matrix-bot-sdk's native E2EE module is replaced by this stub (package.json "overrides"); npm ci needs it.
COPY adapters/matrix/crypto-stub ./adapters/matrix/crypto-stub
RUN npm ci --no-audit --no-fund
COPY tsconfig.json tsconfig.build.json ./
COPY src ./src
COPY adapters ./adapters
RUN npm run build

# ---- runtime: plain node, production dependencies only, not root ------------------------------------
FROM node:20-bookworm-slim AS runtime
ENV NODE_ENV=production
WORKDIR /app
COPY package.json package-lock.json ./
COPY adapters/matrix/crypto-stub ./adapters/matrix/crypto-stub
RUN npm ci --omit=dev --ignore-scripts --no-audit --no-fund && npm cache clean --force
COPY --from=build /app/dist ./dist
COPY bin ./bin
COPY config/loopbridge.example.yaml ./config/
# The lowdb file (store.path defaults to ./data/loopbridge.json, i.e. /app/data) lives on a volume, owned
# by the unprivileged `node` user the image runs as. Unused when store.url names PostgreSQL.
RUN mkdir -p /app/data && chown node:node /app/data
VOLUME ["/app/data"]
USER node
# The config is a mounted file; ${VAR} references in it are filled from the environment.
ENV LOOPBRIDGE_HEALTH_URL=http://127.0.0.1:9090/healthz
EXPOSE 9090
HEALTHCHECK --interval=30s --timeout=5s --start-period=30s --retries=3 CMD ["node", "bin/healthcheck.mjs"]
ENTRYPOINT ["node", "dist/src/cli.js"]
CMD ["start", "--config", "/config/loopbridge.yaml"]
