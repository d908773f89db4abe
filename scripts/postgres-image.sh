#!/usr/bin/env bash
# Builds the PostgreSQL stand-in (docker/postgres-standin: Debian trixie's postgresql package,
# the official image's interface) under the official name POSTGRES_IMAGE from
# deploy/versions.env, for machines that cannot pull images: the image test runs compose.yaml on
# it, and `make deploy` loads it into the node of `make cluster-up`. Anywhere else the official
# image is pulled and this is never needed. Needs the base image the Dockerfile names
# (debian:trixie-slim), as `make images` does.
#
# Environment: CONTAINER_ENGINE (podman | docker | buildah; default podman), BUILD_CA_BUNDLE.
set -euo pipefail

ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
# shellcheck source=../deploy/versions.env
. "$ROOT/deploy/versions.env"
ENGINE=${CONTAINER_ENGINE:-podman}

printf '[images] building the PostgreSQL stand-in as %s\n' "$POSTGRES_IMAGE" >&2
case $ENGINE in
  docker) build=(docker build) ;;
  buildah) build=(buildah bud --format docker) ;;
  *) build=("$ENGINE" build --format docker) ;;
esac
# The label marks the stand-in, so that nothing mistakes it for the official image.
exec "${build[@]}" --label org.wordmix.test-stand-in=true \
  -t "$POSTGRES_IMAGE" "$ROOT/docker/postgres-standin"
