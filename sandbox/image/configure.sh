#!/bin/sh
# Runs as root inside the image's root filesystem after its packages are installed,
# from both build paths (build-rootfs.sh in a chroot, the Dockerfile in a RUN step).
set -eu

# The agent's user. uid/gid 1000 so files in a bind-mounted /workspace map to a
# predictable owner on the host; the sandbox driver runs containers as this user.
if ! getent group agent >/dev/null; then groupadd --gid 1000 agent; fi
if ! getent passwd agent >/dev/null; then
  useradd --uid 1000 --gid 1000 --create-home --home-dir /home/agent --shell /bin/bash agent
fi
# /mnt/session holds the files mounted into a session (its own volume, like /workspace).
mkdir -p /workspace /mnt/session
chown 1000:1000 /workspace /mnt/session /home/agent

# Later package installs (by whoever extends the image) skip docs too.
mkdir -p /etc/dpkg/dpkg.cfg.d
cat >/etc/dpkg/dpkg.cfg.d/01-longhaul-nodoc <<'CFG'
path-exclude /usr/share/doc/*
path-exclude /usr/share/man/*
path-exclude /usr/share/info/*
path-exclude /usr/share/lintian/*
path-exclude /usr/share/locale/*
path-include /usr/share/locale/locale.alias
CFG

# Keep the image small: nothing here is used at run time.
apt-get clean
rm -rf /var/lib/apt/lists/* /var/cache/apt/*.bin /var/cache/debconf/*-old \
  /usr/share/doc/* /usr/share/man/* /usr/share/info/* /usr/share/lintian \
  /var/log/apt /var/log/dpkg.log /var/log/alternatives.log /var/log/bootstrap.log
find /usr/share/locale -mindepth 1 -maxdepth 1 ! -name locale.alias -exec rm -rf {} +
find / -xdev -name __pycache__ -type d -prune -exec rm -rf {} +
# The in-container executor starts with every container: with the standard
# library precompiled its imports take ~10 ms instead of ~220 ms (the root
# filesystem is read-only at run time, so Python could never cache them).
python3 -m compileall -q -j 0 /usr/lib/python3.11 >/dev/null || true
