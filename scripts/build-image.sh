#!/usr/bin/env bash
# Build one labhub image: build-image.sh <name>   (base-notebook | tensorflow-cpu | tensorflow-cuda | hub | dind)
# Settings come from the environment (the Makefile exports them):
#   IMAGE_PREFIX, TAG, BASE_IMAGE, BASE_IMAGE_EXPLICIT (1 when the admin set BASE_IMAGE),
#   ROOTFS_IMAGE, EXTRA_CA_BUNDLE, LABHUB_VERSION,
#   DOCKER_BUILD_ARGS (extra `docker build` options, e.g. an HTTP proxy: --build-arg https_proxy=...)
set -euo pipefail
log() { printf '[build %s] %s\n' "$name" "$*" >&2; }
die() { log "ERROR: $*"; exit 1; }

name="${1:?usage: $0 <image-name>}"
root="$(cd "$(dirname "$0")/.." && pwd)"
IMAGE_PREFIX="${IMAGE_PREFIX:-labhub}"
TAG="${TAG:-latest}"
BASE_IMAGE="${BASE_IMAGE:-debian:bookworm-slim}"
ROOTFS_IMAGE="${ROOTFS_IMAGE:-$IMAGE_PREFIX/debian-rootfs:bookworm}"
image="$IMAGE_PREFIX/$name:$TAG"
[ -f "$root/images/$name/Dockerfile" ] || die "no images/$name/Dockerfile (known: $(cd "$root/images" && ls -d */ | tr -d / | tr '\n' ' '))"

pin() { sed -n "s/^$1==//p" "$root/constraints.txt"; }

# Build context: images/ plus a .build/ folder with the shared pins and the (possibly empty) CA bundle.
build_dir="$root/images/.build"
mkdir -p "$build_dir"
cp "$root/constraints.txt" "$build_dir/constraints.txt"
if [ -n "${EXTRA_CA_BUNDLE:-}" ]; then
  [ -r "$EXTRA_CA_BUNDLE" ] || die "EXTRA_CA_BUNDLE=$EXTRA_CA_BUNDLE is not a readable file"
  grep -q "BEGIN CERTIFICATE" "$EXTRA_CA_BUNDLE" || die "EXTRA_CA_BUNDLE=$EXTRA_CA_BUNDLE holds no PEM certificate"
  cp "$EXTRA_CA_BUNDLE" "$build_dir/extra-ca.crt"
else
  : >"$build_dir/extra-ca.crt"
fi

# Which base the root image starts from: BASE_IMAGE when it can be had (present or pullable);
# otherwise, unless the admin named BASE_IMAGE explicitly, the Debian rootfs built by debootstrap.
resolve_base() {
  if docker image inspect "$BASE_IMAGE" >/dev/null 2>&1; then
    log "base: $BASE_IMAGE (present locally)"; echo "$BASE_IMAGE"; return
  fi
  local err
  if err=$(timeout "${PULL_TIMEOUT_S:-60}" docker pull -q "$BASE_IMAGE" 2>&1); then
    log "base: $BASE_IMAGE (pulled)"; echo "$BASE_IMAGE"; return
  fi
  err=$(printf '%s' "$err" | tail -n 1)
  if [ "${BASE_IMAGE_EXPLICIT:-0}" = 1 ]; then
    die "BASE_IMAGE=$BASE_IMAGE cannot be had: ${err:-pull timed out}. Fix the name, make the registry reachable, or leave BASE_IMAGE unset to use the debootstrap base ('make base-rootfs')."
  fi
  if ! docker image inspect "$ROOTFS_IMAGE" >/dev/null 2>&1; then
    log "base: $BASE_IMAGE cannot be had (${err:-pull timed out}); building the debootstrap base $ROOTFS_IMAGE"
    "$root/scripts/build-base-rootfs.sh" "$ROOTFS_IMAGE" >&2
  fi
  log "base: $ROOTFS_IMAGE (debootstrap fallback: $BASE_IMAGE cannot be had)"
  echo "$ROOTFS_IMAGE"
}

# --force-rm: a failed build leaves no stopped intermediate container behind.
args=(--force-rm --build-arg "LABHUB_VERSION=${LABHUB_VERSION:-dev}"
      --build-arg "JUPYTERHUB_VERSION=$(pin jupyterhub)"
      --build-arg "JUPYTERLAB_VERSION=$(pin jupyterlab)"
      --build-arg "TENSORFLOW_VERSION=$(pin tensorflow)")
case "$name" in
  base-notebook|hub|dind) args+=(--build-arg "BASE_IMAGE=$(resolve_base)") ;;
  *) parent="$IMAGE_PREFIX/base-notebook:$TAG"
     docker image inspect "$parent" >/dev/null 2>&1 || die "parent image $parent is missing: run 'make image-base' first"
     args+=(--build-arg "PARENT_IMAGE=$parent") ;;
esac

if [ -n "${DOCKER_BUILD_ARGS:-}" ]; then
  read -r -a extra <<<"$DOCKER_BUILD_ARGS"
  args+=("${extra[@]}")
fi

context="$root/images"
[ "$name" = hub ] && context="$root"   # the hub image installs the labhub package from hub/
start=$(date +%s)
build_log="$build_dir/$name.build.log"
# The first/last line of the build log matching an extended regex, without colour codes and indent.
plain_log() { sed -e 's/\x1b\[[0-9;]*m//g' -e 's/^[[:space:]]*//' "$build_log"; }
first_match() { plain_log | grep -m 1 -E "$1" || true; }
last_match() { plain_log | grep -E "$1" | tail -n 1 || true; }
# The full output goes to the log; the terminal gets one line per RUN step that runs, as it starts: the
# steps that take time (a cached step, ENV, LABEL and COPY are silent; BUILD_VERBOSE=1: everything).
progress() {
  if [ "${BUILD_VERBOSE:-0}" = 1 ]; then cat >&2; return; fi
  awk -v tag="[build $name]   " '
    /^Step [0-9]+\/[0-9]+ : / { step = ($0 ~ /^Step [0-9]+\/[0-9]+ : RUN /) ? substr($0, 1, 100) : ""; next }
    /^ ---> Running in / && step != "" { print tag step; fflush(); step = "" }
  ' >&2 || true
}
if ! docker build "${args[@]}" -t "$image" -f "$root/images/$name/Dockerfile" "$context" 2>&1 | tee "$build_log" | progress; then
  # Name the cause in the last line, not only somewhere in the scroll-back above it.
  download='Failed to fetch|Could not connect|Temporary failure resolving|Connection refused|ProxyError|NewConnectionError'
  if cause=$(first_match CERTIFICATE_VERIFY_FAILED) && [ -n "$cause" ]; then
    hint="a download failed TLS verification: behind a TLS-intercepting proxy, give its CA bundle with EXTRA_CA_BUNDLE=<path>"
  elif cause=$(first_match "$download") && [ -n "$cause" ]; then
    hint="a download failed: the build needs the Debian mirror and PyPI (an HTTP proxy goes in DOCKER_BUILD_ARGS='--build-arg https_proxy=...')"
  else
    cause=$(last_match '(^|[[:space:]])E: |ERROR:|No matching distribution|returned a non-zero code')
    hint="see the end of the full log"
  fi
  die "docker build of $image failed: ${cause:-no error line found} -- $hint (full log: $build_log)"
fi
secs=$(( $(date +%s) - start ))
size=$(docker image inspect -f '{{.Size}}' "$image")
log "built $image in ${secs}s (full log: $build_log), size $(awk -v s="$size" 'BEGIN{printf "%.2f GB", s/1e9}')"
printf '{"image": "%s", "build_seconds": %d, "size_bytes": %d, "built_at": "%s"}\n' \
  "$image" "$secs" "$size" "$(date -u +%FT%TZ)" >"$root/images/.build/$name.build.json"
