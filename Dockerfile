# loopbridge runs its TypeScript sources through tsx; no build step.
FROM node:20-bookworm-slim
WORKDIR /app
COPY package.json package-lock.json ./
# matrix-bot-sdk's native E2EE module is replaced by this stub (package.json "overrides"); npm ci needs it.
COPY adapters/matrix/crypto-stub ./adapters/matrix/crypto-stub
RUN npm ci --omit=dev --no-audit --no-fund
COPY bin ./bin
COPY src ./src
COPY adapters ./adapters
COPY config ./config
ENV NODE_ENV=production
VOLUME ["/app/data"]
ENTRYPOINT ["node", "bin/loopbridge.mjs"]
CMD ["start", "--config", "/app/config/loopbridge.yaml"]
