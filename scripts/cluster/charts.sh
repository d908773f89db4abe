#!/usr/bin/env bash
# Helm charts from the Go module proxy, for a machine that reaches no chart repository: each is
# assembled, with its sub-charts, into the tools cache, and `scripts/deploy.sh` installs it from
# there through the same code path that uses the repositories online (CHARTS_DIR).
#
#   scripts/cluster/charts.sh   make what is missing; prints the directory that holds
#                               <chart>-<version>/ for each chart
#
# kyverno (KYVERNO_CHART_VERSION): charts/kyverno of github.com/kyverno/kyverno@KYVERNO_VERSION,
# which carries its local sub-charts (crds, grafana); kyverno-api and openreports come from the
# modules whose Go types Kyverno is built against (the versions in Kyverno's go.mod), renamed to
# the versions the chart's Chart.yaml asks for. reports-server, off by default, is not in any
# module and is dropped from the dependencies (reportsServer.enabled=true cannot work here).
#
# gateway-api-GATEWAY_API_VERSION/standard-install.yaml: the standard channel's CRDs from
# config/crd/standard of sigs.k8s.io/gateway-api, the same objects as the release's file of that
# name.
set -euo pipefail
# shellcheck source=../tools/lib.sh
. "$(dirname "${BASH_SOURCE[0]}")/../tools/lib.sh"

CHARTS="$TOOLS_CACHE/charts"

module_dir() {
  (cd / && go mod download -json "$1@$2") | sed -n 's/^[[:space:]]*"Dir": "\(.*\)",\{0,1\}$/\1/p'
}

# The version of MODULE that go.mod FILE requires.
required_version() { awk -v m="$2" '$1 == m {print $2; exit}' "$1"; }

# subchart_version CHART_YAML NAME: the version the parent's dependencies ask for.
dependency_version() {
  awk -v n="$2" '/^  - name:/ {found = ($3 == n)} found && /^    version:/ {print $2; exit}' "$1"
}

kyverno_chart() {
  local dest="$CHARTS/kyverno-$KYVERNO_CHART_VERSION" src work api_mod reports_mod name dir version
  [[ -f $dest/.done ]] && return 0
  require_go
  log "assembling the kyverno chart $KYVERNO_CHART_VERSION from github.com/kyverno/kyverno@$KYVERNO_VERSION"
  src=$(module_dir github.com/kyverno/kyverno "$KYVERNO_VERSION")
  [[ -d $src/charts/kyverno ]] || die "no charts/kyverno in github.com/kyverno/kyverno@$KYVERNO_VERSION"
  local chart_version
  chart_version=$(sed -n 's/^version:[[:space:]]*\([^[:space:]]*\).*/\1/p' "$src/charts/kyverno/Chart.yaml")
  [[ $chart_version == "$KYVERNO_CHART_VERSION" ]] ||
    die "github.com/kyverno/kyverno@$KYVERNO_VERSION holds chart $chart_version, not KYVERNO_CHART_VERSION=$KYVERNO_CHART_VERSION"
  work="$dest.partial"
  rm -rf "$work"
  mkdir -p "$work"
  cp -R "$src/charts/kyverno" "$work/kyverno"
  chmod -R u+w "$work"
  api_mod=$(module_dir github.com/kyverno/api "$(required_version "$src/go.mod" github.com/kyverno/api)")
  reports_mod=$(module_dir github.com/openreports/reports-api "$(required_version "$src/go.mod" github.com/openreports/reports-api)")
  for name in kyverno-api openreports; do
    case $name in
      kyverno-api) dir=$api_mod/charts/kyverno-api ;;
      openreports) dir=$reports_mod/charts/openreports ;;
    esac
    [[ -f $dir/Chart.yaml ]] || die "no chart $name in its module ($dir)"
    version=$(dependency_version "$work/kyverno/Chart.yaml" "$name")
    cp -R "$dir" "$work/kyverno/charts/$name"
    chmod -R u+w "$work/kyverno/charts/$name"
    # The module holds the chart at its placeholder version; releases stamp the real one.
    sed -i "s/^version:.*/version: $version/" "$work/kyverno/charts/$name/Chart.yaml"
  done
  # reports-server: not in any module; its condition is off by default.
  awk '
    /^  - name: reports-server$/ {skip = 1; next}
    skip && /^  - name:/ {skip = 0}
    skip && /^[^ ]/ {skip = 0}
    !skip {print}
  ' "$work/kyverno/Chart.yaml" >"$work/Chart.yaml.new"
  mv "$work/Chart.yaml.new" "$work/kyverno/Chart.yaml"
  rm -f "$work/kyverno/Chart.lock"
  rm -rf "$dest"
  mv "$work" "$dest"
  touch "$dest/.done"
  log "kyverno chart ready in $dest/kyverno"
}

gateway_api_crds() {
  local dest="$CHARTS/gateway-api-$GATEWAY_API_VERSION" src file
  [[ -f $dest/standard-install.yaml ]] && return 0
  require_go
  src=$(module_dir sigs.k8s.io/gateway-api "$GATEWAY_API_VERSION")/config/crd/standard
  [[ -d $src ]] || die "no config/crd/standard in sigs.k8s.io/gateway-api@$GATEWAY_API_VERSION"
  mkdir -p "$dest"
  for file in "$src"/*.yaml; do
    printf -- '---\n'
    cat "$file"
  done >"$dest/standard-install.yaml.partial"
  mv "$dest/standard-install.yaml.partial" "$dest/standard-install.yaml"
}

mkdir -p "$CHARTS"
exec {lock_fd}>"$CHARTS/.lock"
flock "$lock_fd"
kyverno_chart
gateway_api_crds
printf '%s\n' "$CHARTS"
