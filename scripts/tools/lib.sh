#!/usr/bin/env bash
# Shared helpers for building the pinned Go-distributed Kubernetes tools.
#
# Tools are built from the Go module proxy (no release downloads) and cached
# outside the checkout, keyed by name and version, so a fresh clone reuses them:
#   ${WORDMIX_TOOLS_CACHE:-$HOME/.cache/wordmix/tools}/<name>-<version>/<name>
# Pinned versions live in one place: deploy/versions.env.
set -euo pipefail

WORDMIX_ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)"
TOOLS_CACHE="${WORDMIX_TOOLS_CACHE:-$HOME/.cache/wordmix/tools}"

# shellcheck source=../../deploy/versions.env
. "$WORDMIX_ROOT/deploy/versions.env"

log() { printf '[tools] %s\n' "$*" >&2; }
die() { printf '[tools] error: %s\n' "$*" >&2; exit 1; }

require_go() {
  command -v go >/dev/null 2>&1 ||
    die "Go is needed to build this tool from the Go module proxy; install it (https://go.dev/doc/install or 'apt-get install golang') and retry"
}

# tool_path NAME VERSION -> where the cached binary lives
tool_path() { printf '%s/%s-%s/%s\n' "$TOOLS_CACHE" "$1" "$2" "$1"; }
