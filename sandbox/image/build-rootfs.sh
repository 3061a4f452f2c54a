#!/usr/bin/env bash
# Builds the sandbox image's root filesystem without a container registry:
# debootstrap a minimal Debian bookworm with packages.txt, run configure.sh in it,
# and tar it for `docker import`. Needs root and debootstrap.
#
#   build-rootfs.sh OUTPUT.tar
#
# Uses debootstrap's default Debian mirror; set LONGHAUL_DEBIAN_MIRROR to use another.
set -euo pipefail

out="${1:?usage: build-rootfs.sh OUTPUT.tar}"
here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"

if [[ "$(id -u)" != 0 ]]; then echo "build-rootfs.sh: needs root (debootstrap, chroot)" >&2; exit 1; fi
command -v debootstrap >/dev/null || { echo "build-rootfs.sh: debootstrap is missing" >&2; exit 1; }

packages="$(grep -v -e '^#' -e '^[[:space:]]*$' "$here/packages.txt" | paste -sd, -)"
mkdir -p "$(dirname "$out")"
work="$(mktemp -d "$(dirname "$out")/sandbox-rootfs-build.XXXXXX")"
root="$work/root"

cleanup() {
  # debootstrap mounts proc/sys inside the target; never rm -rf through a live mount.
  local m
  for m in $(awk -v r="$root" 'index($2, r) == 1 { print $2 }' /proc/mounts | sort -r); do
    umount -l "$m" 2>/dev/null || true
  done
  rm -rf "$work"
}
trap cleanup EXIT

# shellcheck disable=SC2086 # the mirror is optional: no argument means debootstrap's default
debootstrap --variant=minbase --include="$packages" bookworm "$root" ${LONGHAUL_DEBIAN_MIRROR:-} \
  >"$work/debootstrap.log" 2>&1 || {
  tail -n 30 "$work/debootstrap.log" >&2
  [[ -f "$root/debootstrap/debootstrap.log" ]] && tail -n 30 "$root/debootstrap/debootstrap.log" >&2
  echo "build-rootfs.sh: debootstrap failed" >&2
  exit 1
}

install -m 0755 "$here/configure.sh" "$root/tmp/longhaul-configure.sh"
chroot "$root" /bin/sh /tmp/longhaul-configure.sh
rm -f "$root/tmp/longhaul-configure.sh"
rm -rf "$root"/tmp/* "$root"/var/tmp/*

# Docker provides these at run time; do not bake in the build machine's.
: >"$root/etc/resolv.conf"
echo sandbox >"$root/etc/hostname"
printf '127.0.0.1\tlocalhost\n::1\tlocalhost ip6-localhost ip6-loopback\n' >"$root/etc/hosts"

# Written under a temporary name so an interrupted run never leaves a truncated cache entry.
tar --numeric-owner --xattrs -C "$root" \
  --exclude='./dev/*' --exclude='./proc/*' --exclude='./sys/*' \
  -cf "$out.partial" .
mv -f "$out.partial" "$out"
