# docker-sieve container image.
#
#   docker build -t docker-sieve .
#   docker build --build-arg NODE_IMAGE=node:24-bookworm-slim -t docker-sieve .
#
# NODE_IMAGE is any Debian-based Node.js image (>= 20.18.1) with node, npm and /usr/bin/env; both stages
# use it. The default is the current LTS line (26, "Lithium") on Debian 12, -slim variant.
# Written for both BuildKit and the classic builder (no RUN --mount, no COPY --chmod, no heredocs).
#
# Run it with `read_only: true`, `cap_drop: [ALL]` and `security_opt: [no-new-privileges:true]`: it writes
# nothing, binds an unprivileged port and runs as uid/gid 1000 (`node` in the official images).
# Configure it with environment variables (README.md): the HEALTHCHECK reads the same environment, so it
# checks the right port and protocol. Flags passed as the command are not seen by the healthcheck.

ARG NODE_IMAGE=node:26-bookworm-slim

# ---- build: compile TypeScript, then keep the production dependencies only -----------------------------
FROM ${NODE_IMAGE} AS build
WORKDIR /app
# The lockfile alone decides what is installed. No install scripts: none of the dependencies needs one to
# run, and tsc needs none to compile.
COPY package.json package-lock.json ./
RUN npm ci --ignore-scripts --no-audit --no-fund --loglevel=warn
COPY tsconfig.json tsconfig.build.json ./
COPY src ./src
# pino-pretty (optional) only prettifies logs on a terminal; a container logs JSON, so it is left out. Type
# declarations, TypeScript sources, source maps and markdown in node_modules are never loaded: dropped.
RUN npm run build \
 && npm prune --omit=dev --omit=optional --ignore-scripts --no-audit --no-fund --loglevel=warn \
 && rm -f node_modules/.package-lock.json \
 && find node_modules -type f \( -name '*.ts' -o -name '*.mts' -o -name '*.cts' -o -name '*.map' -o -name '*.md' -o -name '*.markdown' \) -delete \
 && chmod 0755 dist/server.js \
 && mkdir bin \
 && ln -s ../dist/server.js bin/docker-sieve

# ---- runtime -------------------------------------------------------------------------------------------
FROM ${NODE_IMAGE}
ARG NODE_IMAGE
ARG VERSION=0.1.0
ARG REVISION=
ARG CREATED=
LABEL org.opencontainers.image.title="docker-sieve" \
      org.opencontainers.image.description="A proxy for your Docker socket proxy: each client sees only the containers it should see." \
      org.opencontainers.image.licenses="MIT" \
      org.opencontainers.image.version="${VERSION}" \
      org.opencontainers.image.revision="${REVISION}" \
      org.opencontainers.image.created="${CREATED}" \
      org.opencontainers.image.base.name="${NODE_IMAGE}"

ENV NODE_ENV=production \
    PATH=/app/bin:$PATH
WORKDIR /app
# Owned by root, read-only for the user that runs it. No RUN in this stage: it adds three layers and
# nothing else (no shell needed to build it).
COPY --from=build /app/package.json ./package.json
COPY --from=build /app/node_modules ./node_modules
COPY --from=build /app/dist ./dist
COPY --from=build /app/bin ./bin

# Numeric, so that Kubernetes' runAsNonRoot can verify it.
USER 1000:1000
EXPOSE 2375
# `docker-sieve healthcheck` asks docker-sieve's own port (PORT, LISTEN_ADDRESS, TLS_* from the environment)
# for /_ping: exit 0 when it answers 200, 1 otherwise. No curl or wget in the image.
HEALTHCHECK --interval=30s --timeout=10s --start-period=10s --retries=3 CMD ["docker-sieve", "healthcheck"]
# `docker run IMAGE` serves; `docker run IMAGE preview`, `--help`, `--version` run the other commands. The bin's
# shebang carries docker-sieve's Node.js flags (--max-semi-space-size=2: memory stays flat while lists stream).
ENTRYPOINT ["docker-sieve"]
