# syntax=docker/dockerfile:1
# node-ca image: the per-node agent of the image registry.
#   docker build -t node-ca:0.1.0 --build-arg VERSION=0.1.0 --build-arg REVISION=$(git rev-parse HEAD) .
# Both stages run Node 24, the major the tests run on (the npm `node`
# devDependency pins it for npm scripts; it is a dev dependency, so the
# runtime's production install never fetches it).

FROM node:24-bookworm-slim AS build
WORKDIR /src
COPY package.json package-lock.json ./
RUN npm ci
COPY tsconfig.json tsconfig.build.json ./
COPY scripts ./scripts
COPY src ./src
RUN npm run build

FROM node:24-bookworm-slim AS runtime
ARG VERSION=0.1.0
ARG REVISION=unknown
LABEL org.opencontainers.image.title="node-ca" \
      org.opencontainers.image.description="Per-node agent of the image registry: CA trust sync into containerd/Docker certs.d, /etc/hosts for the registry Service, node operations endpoint (verified MinIO backup, pull checks)." \
      org.opencontainers.image.version="${VERSION}" \
      org.opencontainers.image.revision="${REVISION}" \
      org.opencontainers.image.licenses="Apache-2.0" \
      org.opencontainers.image.base.name="docker.io/library/node:24-bookworm-slim"
# Host tools the agent runs inside the pod: GNU tar (backups), util-linux
# (nsenter into the host's runtime tools), ca-certificates (TLS checks),
# tini (forwards SIGTERM to the agent and reaps tar/nsenter children; `-s`
# makes it a subreaper, since with the DaemonSet's hostPID it is not PID 1).
RUN apt-get update \
 && apt-get install -y --no-install-recommends tar util-linux ca-certificates tini \
 && rm -rf /var/lib/apt/lists/*
WORKDIR /app
ENV NODE_ENV=production
COPY package.json package-lock.json ./
RUN npm ci --omit=dev --ignore-scripts && npm cache clean --force
COPY --from=build /src/dist ./dist
RUN ln -s /app/dist/cli/main.js /usr/local/bin/node-ca
# Root: the agent writes host files (certs.d, /etc/hosts) in a privileged pod.
USER root
# V8 flags for a small resident agent (README "Performance"; bench/trust.mjs
# reads them from here, to measure the agent as shipped):
#   --max-semi-space-size=1  young generation 2 MiB instead of growing to 32
#                            (also lowers a backup's peak RSS, same speed);
#   --expose-gc              lets the agent trim its heap once quiet (src/lib/heap.ts);
#   --no-maglev              Sparkplug then TurboFan, without the mid tier whose
#                            code pages an idle agent would keep resident;
#   --v8-pool-size=2         two V8 background threads (GC, compiles), not four.
# On the command line, not NODE_OPTIONS: Node refuses --no-maglev there. They
# apply to the agent; `node-ca` run with kubectl exec uses plain node.
ENTRYPOINT ["tini", "-s", "--", "node", "--max-semi-space-size=1", "--expose-gc", "--no-maglev", "--v8-pool-size=2", "/app/dist/cli/main.js"]
CMD ["agent", "--config", "/etc/node-ca/config.yaml"]
