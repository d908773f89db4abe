#!/usr/bin/env bash
# Prints the path of istioctl at the pinned ISTIO_VERSION, building it first when the cache
# lacks it. Usage: ISTIOCTL="$(scripts/tools/istioctl.sh)"; "$ISTIOCTL" validate -f FILE
set -euo pipefail
. "$(dirname "${BASH_SOURCE[0]}")/lib.sh"

# The cache key carries the commit too, so re-pinning the module alone still rebuilds.
commit="${ISTIO_MODULE_VERSION##*-}"
pkg=istio.io/istio/pkg/version
# What an official build stamps in: `istioctl version` reports it, and `istioctl install` and
# `manifest generate` take their default image hub and tag from it (unstamped: hub "unknown").
ldflags="-s -w -X $pkg.buildVersion=$ISTIO_VERSION -X $pkg.buildTag=$ISTIO_VERSION"
ldflags+=" -X $pkg.buildGitRevision=$commit -X $pkg.buildStatus=Clean"
ldflags+=" -X $pkg.buildHub=docker.io/istio -X $pkg.buildOS=linux -X $pkg.buildArch=$(go env GOARCH 2>/dev/null || echo amd64)"

build_module_command istioctl "$ISTIO_VERSION-$commit" istio.io/istio "$ISTIO_MODULE_VERSION" \
  istioctl/cmd/istioctl "$ldflags"
