# The Longhaul image, for machines that can pull from a container registry:
# `longhaul serve` (the HTTP API, as an unprivileged user) by default, `longhaul worker`
# with `worker` as the command. temporal-compose.yml runs both; read its worker service
# before running a worker any other way (root, the Docker socket, loop devices, and its
# data folder at the same path inside and outside the container).
#
#   docker build -t longhaul .
#
# Node runs the TypeScript sources directly (type stripping); the one build stage is the
# web console's bundle (React, Vite: dev dependencies the image itself does not carry).
# NODE_IMAGE may name any Debian-based image with Node >= 22.22 and npm (package.json's engines).
ARG NODE_IMAGE=node:24-bookworm-slim
FROM ${NODE_IMAGE} AS console
WORKDIR /build
COPY package.json package-lock.json ./
RUN npm ci --no-audit --no-fund
COPY console ./console
RUN npm run build:console

FROM ${NODE_IMAGE}

# The worker gives each session a sparse ext4 disk (mkfs.ext4) and loop-mounts it under a
# lock (flock, mountpoint, mount). Debian's slim images have all of them; another base
# gets them from apt.
RUN set -eu; \
    for tool in mkfs.ext4 mount umount mountpoint flock; do \
      command -v "$tool" >/dev/null || missing=yes; \
    done; \
    if [ -n "${missing:-}" ]; then \
      apt-get update; \
      apt-get install -y --no-install-recommends e2fsprogs mount util-linux; \
      rm -rf /var/lib/apt/lists/*; \
    fi

WORKDIR /opt/longhaul
# Dependencies first: this layer is reused until the lockfile changes.
COPY package.json package-lock.json ./
RUN npm ci --omit=dev --no-audit --no-fund && npm cache clean --force

# Every folder the CLI imports at run time; the worker also bind-mounts
# sandbox/executor/ into every sandbox (see temporal-compose.yml for what that asks of a
# containerised worker).
COPY bin ./bin
COPY src ./src
COPY activities ./activities
COPY workflows ./workflows
COPY sandbox ./sandbox
COPY --from=console /build/dist/console ./dist/console

# The sources stay root's: the user serving the API cannot change the code it runs.
RUN ln -s /opt/longhaul/bin/longhaul.js /usr/local/bin/longhaul \
    && groupadd --system longhaul \
    && useradd --system --gid longhaul --home-dir /nonexistent --no-create-home --shell /usr/sbin/nologin longhaul

# 127.0.0.1, the CLI's default, cannot be reached from outside a container.
ENV LONGHAUL_HOST=0.0.0.0
EXPOSE 4000
USER longhaul
ENTRYPOINT ["longhaul"]
CMD ["serve"]
