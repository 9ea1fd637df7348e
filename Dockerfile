# The API and worker image. (The visibility issue turns this into a multi-stage build with a
# prebuilt workflow bundle; for now the worker bundles its workflows at start, in a few seconds.)
FROM node:20-bookworm-slim AS deps
WORKDIR /app
COPY package.json package-lock.json ./
RUN npm ci --omit=dev --no-audit --no-fund

FROM node:20-bookworm-slim
ENV NODE_ENV=production
WORKDIR /app
COPY --from=deps /app/node_modules ./node_modules
COPY package.json tsconfig.json ./
COPY src ./src
COPY workflows ./workflows
COPY activities ./activities
USER node
EXPOSE 3000
CMD ["node", "--import", "tsx", "src/main/api.ts"]
