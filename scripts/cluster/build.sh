#!/usr/bin/env bash
# Builds the binaries of the local one-node cluster from the Go module proxy (and pause from
# Kubernetes' own C source), at the versions pinned in deploy/versions.env, into the tools cache
# outside the checkout, keyed by version:
#   ${WORDMIX_TOOLS_CACHE:-$HOME/.cache/wordmix/tools}/<component>-<version>/<binary>
# A component already in the cache is not rebuilt. Each component is one `go build` of all its
# commands, so packages they share compile once.
#
#   scripts/cluster/build.sh [COMPONENT...]   default: all of them, in the order below
#   scripts/cluster/build.sh --path COMPONENT print the cache directory of COMPONENT
set -euo pipefail
# shellcheck source=../tools/lib.sh
. "$(dirname "${BASH_SOURCE[0]}")/../tools/lib.sh"

COMPONENTS=(kubernetes etcd containerd coredns kube-network-policies local-path-provisioner helm kyverno-images pause)

component_dir() {
  local version
  case $1 in
    kubernetes) version=$KUBERNETES_VERSION ;;
    etcd) version=$ETCD_VERSION ;;
    containerd) version=$CONTAINERD_VERSION ;;
    coredns) version=$COREDNS_VERSION ;;
    kube-network-policies) version=$KUBE_NETWORK_POLICIES_VERSION ;;
    local-path-provisioner) version=$LOCAL_PATH_PROVISIONER_VERSION ;;
    helm) version=$HELM_VERSION ;;
    kyverno-images) version=$KYVERNO_VERSION ;;
    pause) version=$PAUSE_VERSION-$KUBERNETES_VERSION ;;
    *) die "unknown component '$1' (one of: ${COMPONENTS[*]})" ;;
  esac
  printf '%s/%s-%s\n' "$TOOLS_CACHE" "$1" "$version"
}

# module_copy MODULE VERSION -> a writable copy of the module's source, printed on stdout
module_copy() {
  local src work
  src="$(cd / && go mod download -json "$1@$2" | sed -n 's/^[[:space:]]*"Dir": "\(.*\)",\{0,1\}$/\1/p')"
  [[ -n $src && -d $src ]] || die "go mod download gave no source directory for $1@$2"
  work="$(mktemp -d "$TOOLS_CACHE/.build-XXXXXX")"
  cp -R "$src/." "$work/"
  chmod -R u+w "$work"
  printf '%s\n' "$work"
}

# go_build DIR OUT LDFLAGS [TAGS] PACKAGE... : one build of every PACKAGE into OUT/
go_build() {
  local dir=$1 out=$2 ldflags=$3 tags=$4
  shift 4
  (cd "$dir" && GOWORK=off CGO_ENABLED=0 GOFLAGS=-mod=mod go build -trimpath -buildvcs=false \
    -tags "$tags" -ldflags "-s -w $ldflags" -o "$out/" "$@" >&2)
}

build_kubernetes() {
  local work=$1 out=$2 v=$KUBERNETES_VERSION staging
  # k8s.io/kubernetes replaces its k8s.io/* dependencies with ./staging paths the module zip
  # lacks; the same code is published as k8s.io/<name> v0.<minor>.<patch>.
  staging="v0.${v#v1.}"
  local edits=()
  while read -r name; do
    edits+=("-dropreplace=$name" "-require=$name@$staging")
  done < <(sed -n 's#^[[:space:]]*\(k8s.io/[a-z-]*\) => ./staging/.*#\1#p' "$work/go.mod")
  ((${#edits[@]})) || die "no staging replaces found in k8s.io/kubernetes' go.mod"
  (cd "$work" && go mod edit "${edits[@]}")
  local minor=${v#v1.}
  minor=${minor%%.*}
  local ldflags="" pkg
  for pkg in k8s.io/component-base/version k8s.io/client-go/pkg/version; do
    ldflags+=" -X $pkg.gitVersion=$v -X $pkg.gitMajor=1 -X $pkg.gitMinor=$minor"
    ldflags+=" -X $pkg.gitTreeState=clean -X $pkg.buildDate=1970-01-01T00:00:00Z"
  done
  go_build "$work" "$out" "$ldflags" "" ./cmd/kube-apiserver ./cmd/kube-controller-manager \
    ./cmd/kube-scheduler ./cmd/kubelet ./cmd/kube-proxy
}

build_etcd() {
  local work=$1 out=$2
  # etcd's own main lives in a module with replaces; etcdmain.Main is the same entry point.
  cat >"$work/main.go" <<'GO'
package main

import (
	"os"

	"go.etcd.io/etcd/server/v3/etcdmain"
)

func main() { etcdmain.Main(os.Args) }
GO
  (cd "$work" && cat >go.mod <<MOD
module wordmix.local/etcd

go 1.24

require go.etcd.io/etcd/server/v3 $ETCD_VERSION
MOD
  )
  (cd "$work" && GOWORK=off go mod tidy >&2)
  go_build "$work" "$out" "" "" .
}

build_containerd() {
  local work=$1 out=$2 pkg=github.com/containerd/containerd/v2/version
  go_build "$work" "$out" "-X $pkg.Version=$CONTAINERD_VERSION -X $pkg.Revision=wordmix" \
    "no_btrfs no_devmapper" ./cmd/containerd ./cmd/containerd-shim-runc-v2 ./cmd/ctr
}

build_coredns() { go_build "$1" "$2" "" "" .; }

build_kube_network_policies() {
  local work=$1 pkg=$1/pkg/networkpolicy
  # kube-network-policies hands packets to its userspace verdict through nftables' `queue`
  # statement (nft_queue). Kernels built without CONFIG_NFT_QUEUE - this machine's among them -
  # refuse that rule ("No such file or directory"), while the xtables NFQUEUE target, which
  # nftables can run through nft_compat, does the same thing. This rewrites the three places
  # that build the statement to emit that target instead; nothing else changes.
  cp "$WORDMIX_ROOT/scripts/cluster/kube-network-policies/xt_queue.go" "$pkg/"
  perl -0pi -e 's/queue := &expr\.Queue\{Num: uint16\(c\.config\.QueueID\)\}\s*if c\.config\.FailOpen \{\s*queue\.Flag = expr\.QueueFlagBypass\s*\}/queue := xtQueue(uint16(c.config.QueueID), c.config.FailOpen)/g' "$pkg/controller.go"
  perl -0pi -e 's/&expr\.Queue\{Num: uint16\(n\.nfQueueID\), Flag: expr\.QueueFlagBypass\}/xtQueue(uint16(n.nfQueueID), true)/g' "$pkg/dnsagent.go"
  if grep -q 'expr\.Queue{' "$pkg/controller.go" "$pkg/dnsagent.go"; then
    die "kube-network-policies: a queue statement was left unpatched (has the source changed?)"
  fi
  go_build "$work" "$2" "" "" ./cmd
  mv "$2/cmd" "$2/kube-network-policies"
}

build_local_path_provisioner() {
  # The module zip keeps only vendor/modules.txt of its vendor directory: take the dependencies
  # from the module proxy instead.
  rm -rf "$1/vendor"
  go_build "$1" "$2" "-X main.VERSION=$LOCAL_PATH_PROVISIONER_VERSION" "" .
}

build_helm() {
  local pkg=helm.sh/helm/v3/internal/version
  # Without these, helm reports v3.x-dev and assumes Kubernetes v1.20 for charts' kubeVersion.
  local kpkg=helm.sh/helm/v3/pkg/chartutil
  go_build "$1" "$2" "-X $pkg.version=$HELM_VERSION -X $pkg.gitTreeState=clean \
    -X $kpkg.k8sVersionMajor=1 -X $kpkg.k8sVersionMinor=37" "" ./cmd/helm
}

build_kyverno_images() {
  local pkg=github.com/kyverno/kyverno/pkg/version
  # The five controllers, the readiness checker (the chart's pre-delete hooks) and the CLI (its
  # post-upgrade migration hook).
  go_build "$1" "$2" "-X $pkg.BuildVersion=$KYVERNO_VERSION" "" ./cmd/kyverno ./cmd/kyverno-init \
    ./cmd/background-controller ./cmd/cleanup-controller ./cmd/reports-controller \
    ./cmd/readiness-checker ./cmd/cli/kubectl-kyverno
}

build_pause() {
  local work=$1 out=$2
  command -v gcc >/dev/null || die "gcc is needed to build the pause binary"
  gcc -Os -static -Wall -Werror -DVERSION="v$PAUSE_VERSION-wordmix" \
    -o "$out/pause" "$work/build/pause/linux/pause.c"
  strip "$out/pause"
}

# build COMPONENT: makes sure its cache directory is complete (marked by .done)
build() {
  local name=$1 dir module modver
  dir="$(component_dir "$name")"
  [[ -f $dir/.done ]] && return 0
  require_go

  exec {lock_fd}>"$dir.lock"
  flock "$lock_fd"
  if [[ ! -f $dir/.done ]]; then
    case $name in
      kubernetes | pause) module=k8s.io/kubernetes modver=$KUBERNETES_VERSION ;;
      etcd) module="" ;;
      containerd) module=github.com/containerd/containerd/v2 modver=$CONTAINERD_VERSION ;;
      coredns) module=github.com/coredns/coredns modver=$COREDNS_VERSION ;;
      kube-network-policies) module=sigs.k8s.io/kube-network-policies modver=$KUBE_NETWORK_POLICIES_VERSION ;;
      local-path-provisioner) module=github.com/rancher/local-path-provisioner modver=$LOCAL_PATH_PROVISIONER_VERSION ;;
      helm) module=helm.sh/helm/v3 modver=$HELM_VERSION ;;
      kyverno-images) module=github.com/kyverno/kyverno modver=$KYVERNO_VERSION ;;
    esac
    log "building $name into $dir (a cold build takes minutes on 2 cores)"
    local work start=$SECONDS
    if [[ -n $module ]]; then work="$(module_copy "$module" "$modver")"; else work="$(mktemp -d "$TOOLS_CACHE/.build-XXXXXX")"; fi
    rm -rf "$dir.partial"
    mkdir -p "$dir.partial"
    if ! "build_${name//-/_}" "$work" "$dir.partial"; then
      rm -rf "$work" "$dir.partial"
      die "building $name failed"
    fi
    rm -rf "$work" "$dir"
    mv "$dir.partial" "$dir"
    touch "$dir/.done"
    log "built $name in $((SECONDS - start)) s: $(cd "$dir" && echo *)"
  fi
  flock -u "$lock_fd"
}

if [[ ${1:-} == --path ]]; then
  component_dir "${2:?--path needs a component}"
  exit 0
fi
mkdir -p "$TOOLS_CACHE"
for component in "${@:-${COMPONENTS[@]}}"; do build "$component"; done
