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

# build_module_command NAME VERSION MODULE MODULE_VERSION PACKAGE [LDFLAGS]
# Makes sure the cached binary NAME (keyed by VERSION) exists, building PACKAGE (a directory
# inside MODULE) from MODULE@MODULE_VERSION when it does not. A module whose go.mod has
# `replace` directives cannot be `go install`ed by version, so this builds in a writable copy
# of the module's own source, where the replaces apply. Prints the binary's path on stdout.
build_module_command() {
  local name=$1 version=$2 module=$3 modver=$4 pkg=$5 ldflags=${6:-}
  local bin dir
  bin="$(tool_path "$name" "$version")"
  dir="$(dirname "$bin")"
  if [[ ! -x $bin ]]; then
    require_go
    mkdir -p "$dir"
    # Two test processes asking at once must not build twice into the same place.
    exec {lock_fd}>"$dir/.lock"
    flock "$lock_fd"
    if [[ ! -x $bin ]]; then
      log "$name $version is not in $dir: building $module@$modver from the Go module proxy (several minutes on 2 cores)"
      local src work
      src="$(cd / && go mod download -json "$module@$modver" |
        sed -n 's/^[[:space:]]*"Dir": "\(.*\)",\{0,1\}$/\1/p')"
      [[ -n $src && -d $src ]] || die "go mod download gave no source directory for $module@$modver"
      work="$(mktemp -d "$TOOLS_CACHE/.build-$name-XXXXXX")"
      # The module cache is read-only; the build needs a copy it may write into.
      cp -R "$src/." "$work/"
      chmod -R u+w "$work"
      if ! (cd "$work" && CGO_ENABLED=0 go build -trimpath -buildvcs=false \
        -ldflags "$ldflags" -o "$bin.partial" "./$pkg" >&2); then
        rm -rf "$work" "$bin.partial"
        die "building $name from $module@$modver failed"
      fi
      rm -rf "$work"
      mv "$bin.partial" "$bin"
      log "built $bin"
    fi
    flock -u "$lock_fd"
  fi
  printf '%s\n' "$bin"
}
