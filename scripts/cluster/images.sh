#!/usr/bin/env bash
# The images the local node runs besides the app, made from the binaries scripts/cluster/build.sh
# caches, under the names the node's manifests and the Kyverno chart use (a user's cluster pulls
# the official ones). Each is one static binary on an empty root - like the official images, which
# are distroless or `ko` builds - and is saved as an archive in the tools cache, keyed by name and
# tag, for `node.sh` to import into the node's containerd.
#
#   scripts/cluster/images.sh --build          make every archive that is missing
#   scripts/cluster/images.sh --list           the image names, one a line
#   scripts/cluster/images.sh --archive NAME   the archive of NAME (made if missing)
set -euo pipefail
# shellcheck source=../tools/lib.sh
. "$(dirname "${BASH_SOURCE[0]}")/../tools/lib.sh"
HERE="$WORDMIX_ROOT/scripts/cluster"
ARCHIVES="$TOOLS_CACHE/node-images"

busybox_version() {
  dpkg-query -W -f='${Version}' busybox-static 2>/dev/null | sed 's/^[0-9]*://; s/-.*//'
}

# name|component|binary in the component's cache dir|path in the image|user
images() {
  local kyverno=reg.kyverno.io/kyverno
  cat <<EOF
registry.k8s.io/pause:$PAUSE_VERSION|pause|pause|/pause|65535
registry.k8s.io/coredns/coredns:$COREDNS_VERSION|coredns|coredns|/coredns|65532
registry.k8s.io/networking/kube-network-policies:$KUBE_NETWORK_POLICIES_VERSION|kube-network-policies|kube-network-policies|/bin/netpol|0
docker.io/rancher/local-path-provisioner:$LOCAL_PATH_PROVISIONER_VERSION|local-path-provisioner|local-path-provisioner|/usr/bin/local-path-provisioner|0
localhost/wordmix-node/busybox:$(busybox_version)|busybox|busybox|/bin/busybox|0
$kyverno/kyverno:$KYVERNO_VERSION|kyverno-images|kyverno|/ko-app/kyverno|65532
$kyverno/kyvernopre:$KYVERNO_VERSION|kyverno-images|kyverno-init|/ko-app/kyverno-init|65532
$kyverno/background-controller:$KYVERNO_VERSION|kyverno-images|background-controller|/ko-app/background-controller|65532
$kyverno/cleanup-controller:$KYVERNO_VERSION|kyverno-images|cleanup-controller|/ko-app/cleanup-controller|65532
$kyverno/reports-controller:$KYVERNO_VERSION|kyverno-images|reports-controller|/ko-app/reports-controller|65532
$kyverno/kyverno-cli:$KYVERNO_VERSION|kyverno-images|kubectl-kyverno|/ko-app/kubectl-kyverno|65532
ghcr.io/kyverno/readiness-checker:$KYVERNO_VERSION|kyverno-images|readiness-checker|/ko-app/readiness-checker|65532
EOF
}

archive_path() { printf '%s/%s.tar\n' "$ARCHIVES" "$(printf '%s' "$1" | tr '/:' '__')"; }

# make_archive NAME COMPONENT BINARY PATH USER
make_archive() {
  local name=$1 component=$2 binary=$3 path=$4 user=$5 archive source ctr
  archive=$(archive_path "$name")
  [[ -f $archive ]] && return 0
  command -v buildah >/dev/null 2>&1 || die "buildah is needed to make $name (Debian: apt-get install buildah)"
  if [[ $component == busybox ]]; then
    source=/bin/busybox
    [[ -x $source ]] || die "busybox-static is needed for the storage helper image (Debian: apt-get install busybox-static)"
  else
    source="$("$HERE/build.sh" --path "$component")/$binary"
    [[ -x $source ]] || die "$source is missing: run scripts/cluster/build.sh $component"
  fi
  mkdir -p "$ARCHIVES"
  ctr=$(buildah from scratch)
  if [[ $component == busybox ]]; then
    # The provisioner's helper pod runs `sh` scripts that call mkdir, chmod and rm.
    local root applet
    root=$(mktemp -d)
    mkdir -p "$root/bin"
    cp "$source" "$root/bin/busybox"
    for applet in sh mkdir rm chmod; do ln -s busybox "$root/bin/$applet"; done
    buildah copy --quiet "$ctr" "$root" / >/dev/null
    rm -rf "$root"
  else
    buildah copy --quiet "$ctr" "$source" "$path" >/dev/null
  fi
  buildah config --entrypoint "[\"$path\"]" --user "$user:$user" \
    --env PATH=/usr/bin:/bin --label org.wordmix.node-image=true "$ctr"
  buildah commit --quiet --rm "$ctr" "$name" >/dev/null
  buildah push --quiet "$name" "docker-archive:$archive.partial:$name"
  mv "$archive.partial" "$archive"
  log "made $name ($(du -h "$archive" | cut -f1))"
}

case ${1:-} in
  --list) images | cut -d'|' -f1 ;;
  --archive)
    want=${2:?--archive needs an image name}
    line=$(images | grep -F "$want|" | head -n 1) || die "no node image named $want"
    IFS='|' read -r name component binary path user <<<"$line"
    make_archive "$name" "$component" "$binary" "$path" "$user"
    archive_path "$name"
    ;;
  --build)
    while IFS='|' read -r name component binary path user; do
      make_archive "$name" "$component" "$binary" "$path" "$user"
    done < <(images)
    ;;
  *)
    sed -n '2,/^set -e/p' "${BASH_SOURCE[0]}" | sed -n 's/^# \{0,1\}//p' >&2
    exit 2
    ;;
esac
