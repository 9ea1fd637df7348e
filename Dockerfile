# The API and worker image: one image, two commands (compose runs src/main/api.ts and
# src/main/worker.ts). TypeScript runs through tsx's CommonJS loader (`--require tsx/cjs`), as with
# `npm start` and `npm run worker`: tsx's full `--import tsx` adds an ESM hooks thread and costs ~50
# MB of RSS (docs/configuration.md). The workflows are bundled here, once, so a worker starts
# without webpack and every replica runs the same workflow code.

# 1. Production dependencies (tsx runs the code; @temporalio/worker brings the bundler).
FROM node:20-bookworm-slim AS deps
WORKDIR /app
COPY package.json package-lock.json ./
RUN npm ci --omit=dev --no-audit --no-fund

# 2. The prebuilt workflow bundle: the same bundleWorkflows() the worker would run at start.
FROM node:20-bookworm-slim AS build
WORKDIR /app
COPY --from=deps /app/node_modules ./node_modules
COPY package.json tsconfig.json ./
COPY src ./src
COPY workflows ./workflows
COPY activities ./activities
RUN npm run build:workflows -- dist/workflow-bundle.js

# 3. Runtime: sources, dependencies and the bundle; runs as the image's unprivileged `node` user.
FROM node:20-bookworm-slim
# MALLOC_ARENA_MAX=2: glibc's malloc keeps two arenas, not one per thread that allocates (Core's
# tokio threads, the workflow thread, libuv's pool); ~30 MiB less RSS (docs/configuration.md).
ENV NODE_ENV=production \
    MALLOC_ARENA_MAX=2 \
    BATCHFLOW_DATA_DIR=/app/.data \
    WORKFLOW_BUNDLE_PATH=/app/dist/workflow-bundle.js
WORKDIR /app
COPY --from=deps /app/node_modules ./node_modules
COPY package.json tsconfig.json ./
COPY src ./src
COPY workflows ./workflows
COPY activities ./activities
COPY --from=build /app/dist/workflow-bundle.js ./dist/workflow-bundle.js
# The only directory the processes write to (fs blobs, PGlite, the dev key when configured).
RUN mkdir -p /app/.data && chown node:node /app/.data
USER node
EXPOSE 3000
# No HEALTHCHECK here: the image runs the API or a worker, which are checked differently; the
# compose file gives each service its own. node is PID 1 and handles SIGTERM itself (graceful
# shutdown: src/main/boot.ts onShutdown).
CMD ["node", "--require", "tsx/cjs", "src/main/api.ts"]
