#!/usr/bin/env bash
# Build a Debian root filesystem with debootstrap and `docker import` it, for hosts that cannot reach
# a container registry. The result plays the role of debian:bookworm-slim.
#   usage: build-base-rootfs.sh <image-name> [suite] [mirror]
set -euo pipefail
log() { printf '[base-rootfs] %s\n' "$*" >&2; }
die() { log "ERROR: $*"; exit 1; }

image="${1:?usage: $0 <image-name> [suite] [mirror]}"
suite="${2:-bookworm}"
mirror="${3:-http://deb.debian.org/debian}"

[ "$(id -u)" = 0 ] || die "debootstrap needs root"
if ! command -v debootstrap >/dev/null 2>&1; then
  command -v apt-get >/dev/null 2>&1 || die "debootstrap is missing and this is not a Debian/Ubuntu host"
  log "installing debootstrap"
  DEBIAN_FRONTEND=noninteractive apt-get install -y -qq debootstrap >/dev/null \
    || { apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq debootstrap >/dev/null; } \
    || die "could not install debootstrap"
fi

work="$(mktemp -d /tmp/labhub-rootfs.XXXXXX)"
trap 'rm -rf "$work"' EXIT
log "debootstrap --variant=minbase $suite from $mirror"
start=$(date +%s)
debootstrap --variant=minbase "$suite" "$work/rootfs" "$mirror" >"$work/debootstrap.log" 2>&1 || {
  tail -n 15 "$work/debootstrap.log" >&2
  die "debootstrap failed (mirror $mirror unreachable or suite '$suite' unknown?)"
}
# Same trimming as the official slim images: no apt caches, no docs, no man pages.
rm -rf "$work/rootfs"/var/lib/apt/lists/* "$work/rootfs"/var/cache/apt/*.bin "$work/rootfs"/usr/share/{doc,man,info}/*
cat >"$work/rootfs/etc/apt/apt.conf.d/docker-clean" <<'CONF'
DPkg::Post-Invoke { "rm -f /var/cache/apt/archives/*.deb /var/cache/apt/archives/partial/*.deb /var/cache/apt/*.bin || true"; };
APT::Update::Post-Invoke { "rm -f /var/cache/apt/archives/*.deb /var/cache/apt/archives/partial/*.deb /var/cache/apt/*.bin || true"; };
Dir::Cache::pkgcache ""; Dir::Cache::srcpkgcache "";
CONF
printf 'path-exclude /usr/share/doc/*\npath-exclude /usr/share/man/*\npath-exclude /usr/share/info/*\n' \
  >"$work/rootfs/etc/dpkg/dpkg.cfg.d/docker-nodoc"

tar -C "$work/rootfs" --numeric-owner -c . | docker import \
  --change 'ENV PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin' \
  --change 'CMD ["/bin/bash"]' \
  --message "debootstrap --variant=minbase $suite" - "$image" >/dev/null \
  || die "docker import failed"
log "built $image in $(( $(date +%s) - start ))s ($(docker image inspect -f '{{.Size}}' "$image" | awk '{printf "%.0f MB", $1/1e6}'))"
