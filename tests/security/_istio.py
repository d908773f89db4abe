"""What the Istio tests share: where the files are, the pinned istioctl, deploy/ rendered."""

from __future__ import annotations

import subprocess
from functools import cache
from pathlib import Path
from typing import Any

import yaml

ROOT = Path(__file__).resolve().parents[2]
ISTIO_DIR = ROOT / "security" / "istio"
PROFILE = ISTIO_DIR / "profile.yaml"
KUBECTL = ROOT / ".venv" / "bin" / "kubectl"
NAMESPACE = "app"

# The identities the policies are written for (ServiceAccount names, see deploy/).
AGGREGATOR = "cluster.local/ns/app/sa/aggregator"
GATEWAY = "cluster.local/ns/app/sa/wordmix-gateway-istio"
VERBS = "cluster.local/ns/app/sa/verbs"
NOUNS = "cluster.local/ns/app/sa/nouns"

# The workloads' pod labels, as the policies select them.
VERBS_POD = {"app": "verbs"}
NOUNS_POD = {"app": "nouns"}
AGGREGATOR_POD = {"app": "aggregator"}
GATEWAY_POD = {"gateway.networking.k8s.io/gateway-name": "wordmix-gateway"}
POSTGRES_POD = {"app": "postgres"}


def serving_port(workload: dict[str, str]) -> int:
    """The port a workload's pods listen on (deploy/: the app on 8000, the gateway on 80)."""
    if workload == POSTGRES_POD:
        return 5432
    return 80 if workload == GATEWAY_POD else 8000


_WORKLOAD_KINDS = {"Deployment", "StatefulSet", "DaemonSet", "ReplicaSet", "Job"}


def versions() -> dict[str, str]:
    """deploy/versions.env as a dict (NAME=value lines)."""
    pairs = {}
    for line in (ROOT / "deploy" / "versions.env").read_text().splitlines():
        line = line.strip()
        if line and not line.startswith("#") and "=" in line:
            name, value = line.split("=", 1)
            pairs[name.strip()] = value.strip().strip("'\"")
    return pairs


def load_docs(path: Path) -> list[dict[str, Any]]:
    return [doc for doc in yaml.safe_load_all(path.read_text()) if doc]


def policy_files() -> list[Path]:
    """The files security/istio/kustomization.yaml applies, in its order."""
    kustomization = yaml.safe_load((ISTIO_DIR / "kustomization.yaml").read_text())
    return [ISTIO_DIR / name for name in kustomization["resources"]]


def policy_docs() -> list[dict[str, Any]]:
    return [doc for path in policy_files() for doc in load_docs(path)]


@cache
def istioctl() -> str:
    """Path of the pinned istioctl; builds it on first use (minutes), then it is cached."""
    script = ROOT / "scripts" / "tools" / "istioctl.sh"
    done = subprocess.run([script], capture_output=True, text=True, check=False)
    if done.returncode != 0:
        raise RuntimeError(f"{script} failed:\n{done.stderr[-4000:]}")
    return done.stdout.strip()


def overlays() -> list[Path]:
    """deploy/'s renderable kustomizations: each overlay, or the base when there is none."""
    found = sorted(p.parent for p in (ROOT / "deploy" / "overlays").glob("*/kustomization.yaml"))
    if not found and (ROOT / "deploy" / "base" / "kustomization.yaml").exists():
        found = [ROOT / "deploy" / "base"]
    return found


@cache
def render(kustomization: Path) -> tuple[dict[str, Any], ...]:
    done = subprocess.run(
        [KUBECTL, "kustomize", kustomization], capture_output=True, text=True, check=False
    )
    if done.returncode != 0:
        raise RuntimeError(f"kubectl kustomize {kustomization} failed:\n{done.stderr}")
    return tuple(doc for doc in yaml.safe_load_all(done.stdout) if doc)


def pods_of(docs: tuple[dict[str, Any], ...] | list[dict[str, Any]]) -> list[dict[str, Any]]:
    """One Pod per workload template, and one per Gateway API Gateway, as the cluster will run
    them, so policy selectors and principals can be checked against what deploy/ declares.
    A Gateway's pod carries the labels and ServiceAccount istiod's gateway template gives it."""
    pods = []
    for doc in docs:
        meta = doc.get("metadata", {})
        namespace = meta.get("namespace", "default")
        if doc.get("kind") in _WORKLOAD_KINDS:
            template = doc["spec"]["template"]
            pods.append(
                {
                    "apiVersion": "v1",
                    "kind": "Pod",
                    "metadata": {
                        "name": f"{meta['name']}-pod",
                        "namespace": namespace,
                        "labels": template.get("metadata", {}).get("labels", {}),
                        "annotations": template.get("metadata", {}).get("annotations", {}),
                    },
                    "spec": template["spec"],
                }
            )
        elif doc.get("kind") == "Gateway" and doc.get("apiVersion", "").startswith(
            "gateway.networking.k8s.io/"
        ):
            name = meta["name"]
            pods.append(
                {
                    "apiVersion": "v1",
                    "kind": "Pod",
                    "metadata": {
                        "name": f"{name}-istio-pod",
                        "namespace": namespace,
                        "labels": {
                            "gateway.networking.k8s.io/gateway-name": name,
                            "sidecar.istio.io/inject": "false",
                        },
                    },
                    "spec": {
                        "serviceAccountName": f"{name}-istio",
                        "containers": [{"name": "istio-proxy", "image": "auto"}],
                    },
                }
            )
    return pods
