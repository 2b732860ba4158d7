# syntax=docker/dockerfile:1
# Build: compile the TypeScript. Runtime: production dependencies and the compiled code only, as a non-root user,
# with a read-only root filesystem in mind (nothing is written at run time).
FROM node:20-bookworm-slim AS build
WORKDIR /src
COPY package.json package-lock.json ./
RUN npm ci --no-audit --no-fund --ignore-scripts
COPY tsconfig.json tsconfig.build.json ./
COPY src ./src
RUN npx tsc -p tsconfig.build.json

FROM node:20-bookworm-slim AS deps
WORKDIR /app
COPY package.json package-lock.json ./
RUN npm ci --omit=dev --no-audit --no-fund --ignore-scripts

FROM gcr.io/distroless/nodejs20-debian12:nonroot
WORKDIR /app
ENV NODE_ENV=production
COPY --from=deps /app/node_modules ./node_modules
COPY --from=build /src/dist/src ./dist/src
COPY package.json ./
USER 65532:65532
EXPOSE 8080
# semi-spaces of 8 MiB instead of 16: at 20,000 shoots RSS 169-171 MiB instead of 184-191 once synced (README, Performance)
ENTRYPOINT ["/nodejs/bin/node", "--max-semi-space-size=8", "--expose-gc", "dist/src/main.js"]
