#!/usr/bin/env bash
# Build the three service images from the one Dockerfile with whatever engine the host has:
# docker (if its daemon answers), else podman, else buildah. Tags:
#   wordmix-verbs:$VERSION  wordmix-nouns:$VERSION  wordmix-aggregator:$VERSION
# VERSION defaults to `git describe`; there is no `latest` tag (the cluster policies refuse
# images without a pinned version). Prints each image's size at the end.
#
# Environment:
#   VERSION            image tag (default: git describe --tags --always --dirty, else "dev")
#   CONTAINER_ENGINE   docker | podman | buildah, to choose instead of detecting
#   BUILD_CA_BUNDLE    CA bundle passed to the build as secret "ca" when the file exists
#                      (default /etc/ssl/certs/ca-certificates.crt), for TLS-intercepting
#                      proxies; pip uses it only when it is there.
#   WORDMIX_SERVICES   which images to build (default "verbs nouns aggregator")
set -euo pipefail

ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$ROOT"

BASE_IMAGE=docker.io/library/debian:trixie-slim
SERVICES=${WORDMIX_SERVICES:-verbs nouns aggregator}
VERSION=${VERSION:-$(git describe --tags --always --dirty 2>/dev/null || echo dev)}
REVISION=$(git rev-parse HEAD 2>/dev/null || echo unknown)
BUILD_CA_BUNDLE=${BUILD_CA_BUNDLE:-/etc/ssl/certs/ca-certificates.crt}

log() { printf '[images] %s\n' "$*" >&2; }
die() { printf '[images] error: %s\n' "$*" >&2; exit 1; }

# A git remote in https form, for the org.opencontainers.image.source label.
source_url() {
  local url
  url=$(git remote get-url origin 2>/dev/null) || return 0
  url=${url%.git}
  if [[ $url =~ ^git@([^:]+):(.+)$ ]]; then
    url="https://${BASH_REMATCH[1]}/${BASH_REMATCH[2]}"
  fi
  printf '%s' "$url"
}

detect_engine() {
  if [[ -n ${CONTAINER_ENGINE:-} ]]; then
    command -v "$CONTAINER_ENGINE" >/dev/null || die "CONTAINER_ENGINE=$CONTAINER_ENGINE is not installed"
    printf '%s' "$CONTAINER_ENGINE"
    return
  fi
  # `docker` may be podman's docker-compatible wrapper; then say podman, which it is.
  if command -v docker >/dev/null && docker info >/dev/null 2>&1; then
    if docker --version 2>/dev/null | grep -qi podman; then printf podman; else printf docker; fi
    return
  fi
  for engine in podman buildah; do
    if command -v "$engine" >/dev/null; then printf '%s' "$engine"; return; fi
  done
  die "no container engine: install Docker (https://docs.docker.com/engine/install/) or podman/buildah (Debian/Ubuntu: apt-get install podman buildah)"
}

ENGINE=$(detect_engine)

image_exists() {
  case $ENGINE in
    docker) docker image inspect "$1" >/dev/null 2>&1 ;;
    podman) podman image exists "$1" ;;
    buildah) buildah inspect --type image "$1" >/dev/null 2>&1 ;;
  esac
}

# The build needs the Debian base under its usual name. Pull it if it is missing; if it
# cannot be pulled (an offline machine), say how to make it rather than guess.
if ! image_exists "$BASE_IMAGE"; then
  log "pulling $BASE_IMAGE"
  if ! "$ENGINE" pull "$BASE_IMAGE" >&2; then
    die "$BASE_IMAGE is missing and cannot be pulled. Make it locally from Debian's packages:
    debootstrap --variant=minbase trixie /tmp/trixie-root http://deb.debian.org/debian
    tar -C /tmp/trixie-root -c . | $ENGINE import - $BASE_IMAGE
(tests/images/ does this itself, and slims the root like Debian's official image.)"
  fi
fi

SOURCE_URL=$(source_url)
build_args=(
  --build-arg "VERSION=$VERSION"
  --build-arg "REVISION=$REVISION"
  --build-arg "SOURCE_URL=$SOURCE_URL"
)
secret_args=()
if [[ -s $BUILD_CA_BUNDLE ]]; then
  secret_args=(--secret "id=ca,src=$BUILD_CA_BUNDLE")
fi

build() {
  local service=$1 tag="wordmix-$1:$VERSION"
  log "building $tag with $ENGINE"
  case $ENGINE in
    docker)
      # RUN --mount (the CA secret) needs BuildKit, the default builder since Docker 23.
      DOCKER_BUILDKIT=1 docker build "${build_args[@]}" "${secret_args[@]}" \
        --target "$service" -t "$tag" . >&2 ;;
    podman)
      # Docker's image format keeps the HEALTHCHECK (OCI's has no field for it).
      podman build --format docker "${build_args[@]}" "${secret_args[@]}" \
        --target "$service" -t "$tag" . >&2 ;;
    buildah)
      buildah build --format docker --layers "${build_args[@]}" "${secret_args[@]}" \
        --target "$service" -t "$tag" . >&2 ;;
  esac
}

# Uncompressed size, in MB (10^6 bytes).
size() {
  local bytes
  case $ENGINE in
    docker) bytes=$(docker image inspect --format '{{.Size}}' "$1") ;;
    podman) bytes=$(podman image inspect --format '{{.Size}}' "$1") ;;
    buildah) buildah images --format '{{.Size}}' "$1" | head -n 1; return ;;  # its own units
  esac
  awk -v b="$bytes" 'BEGIN { printf "%.1f MB\n", b / 1000000 }'
}

for service in $SERVICES; do
  build "$service"
done

echo "Images built with $ENGINE (uncompressed size):"
for service in $SERVICES; do
  tag="wordmix-$service:$VERSION"
  printf '  %-34s %s\n' "$tag" "$(size "$tag")"
done
