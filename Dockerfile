# The API and worker image: one image, two commands (compose runs dist/src/main/api.js and
# dist/src/main/worker.js). The code is compiled here (`npm run build`: tsc to dist/, and the
# workflows bundled once into dist/workflow-bundle.js, which every worker replica loads instead of
# bundling at start), so the runtime runs plain JavaScript: no TypeScript compiler, no tsx, and no
# development package (PGlite, the test server, the linters) in its node_modules.

# 1. Build: every dependency, the compiler among them.
FROM node:24-bookworm-slim AS build
WORKDIR /app
COPY package.json package-lock.json ./
RUN npm ci --no-audit --no-fund
COPY tsconfig.json tsconfig.build.json ./
COPY src ./src
COPY workflows ./workflows
COPY activities ./activities
RUN npm run build

# 2. Production dependencies only, with Temporal's Core bridge for this architecture alone.
FROM node:24-bookworm-slim AS deps
WORKDIR /app
COPY package.json package-lock.json ./
COPY docker/prune-core-bridge.sh ./
RUN npm ci --omit=dev --no-audit --no-fund && sh prune-core-bridge.sh

# 3. Runtime: the compiled code and the production dependencies; runs as the image's unprivileged
# `node` user.
FROM node:24-bookworm-slim
# MALLOC_ARENA_MAX=2: glibc's malloc keeps two arenas, not one per thread that allocates (Core's
# tokio threads, the workflow thread, libuv's pool); ~30 MiB less RSS (docs/configuration.md).
ENV NODE_ENV=production \
    MALLOC_ARENA_MAX=2 \
    BATCHFLOW_DATA_DIR=/app/.data
WORKDIR /app
COPY --from=deps /app/node_modules ./node_modules
COPY package.json ./
COPY --from=build /app/dist ./dist
# The only directory the processes write to (fs blobs, the dev key when configured).
RUN mkdir -p /app/.data && chown node:node /app/.data
USER node
EXPOSE 3000
# No HEALTHCHECK here: the image runs the API or a worker, which are checked differently; the
# compose file gives each service its own. node is PID 1 and handles SIGTERM itself (graceful
# shutdown: src/main/boot.ts onShutdown).
CMD ["node", "dist/src/main/api.js"]
