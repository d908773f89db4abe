"""The rendered app passes the checks a reviewer would run, and the checks catch regressions.

hardening_problems: every container pinned, limited within the Kyverno defaults, probed,
read-only, non-root, capabilities dropped, RuntimeDefault seccomp, no token automount, a /tmp
emptyDir; Pod Security `restricted` on the namespace; a deny-all NetworkPolicy and one of its
own for every pod. reachability_problems evaluates the NetworkPolicies for every pair of pods
on every port that matters. Each mutation below renders the real overlay through a kustomize
patch, the way a careless edit would, and the checks must name what broke.

tests/e2e proves the same live on the local node (NetworkPolicies enforced and compared with
this evaluator, the containers' real uid, capabilities, seccomp and memory limit); these
checks stay for every overlay and the pods the node does not run (deploy/README.md, "What the
live node now proves").
"""

from __future__ import annotations

from pathlib import Path

import pytest
import yaml
from _deploy import (
    OVERLAYS,
    ROOT,
    Doc,
    hardening_problems,
    kubectl,
    kyverno_apply,
    reachability_problems,
    render,
    render_with_patches,
    run,
)

pytestmark = pytest.mark.deploy


@pytest.mark.parametrize("overlay", OVERLAYS)
def test_every_overlay_passes_the_hardening_checks(overlay: str) -> None:
    assert hardening_problems(render(overlay)) == []


@pytest.mark.parametrize("overlay", OVERLAYS)
def test_network_policies_allow_exactly_the_intended_paths(overlay: str) -> None:
    assert reachability_problems(render(overlay)) == []


def json_patch(kind: str, name: str, *operations: Doc) -> Doc:
    return {"target": {"kind": kind, "name": name}, "patch": _yaml(list(operations))}


def _yaml(value: object) -> str:
    return yaml.safe_dump(value)


def delete_network_policy(name: str) -> Doc:
    return {
        "patch": _yaml(
            {
                "$patch": "delete",
                "apiVersion": "networking.k8s.io/v1",
                "kind": "NetworkPolicy",
                "metadata": {"name": name},
            }
        )
    }


CONTAINER = "/spec/template/spec/containers/0"

MUTATIONS = {
    "memory limit removed": (
        [
            json_patch(
                "Deployment",
                "verbs",
                {"op": "remove", "path": f"{CONTAINER}/resources/limits/memory"},
            )
        ],
        "Deployment verbs container verbs: no memory limits",
    ),
    "limit above the Kyverno default": (
        [
            json_patch(
                "Deployment",
                "nouns",
                {"op": "replace", "path": f"{CONTAINER}/resources/limits/memory", "value": "512Mi"},
            )
        ],
        "Deployment nouns container nouns: memory limit 512Mi above the Kyverno default",
    ),
    "writable root filesystem": (
        [
            json_patch(
                "Deployment",
                "aggregator",
                {
                    "op": "replace",
                    "path": f"{CONTAINER}/securityContext/readOnlyRootFilesystem",
                    "value": False,
                },
            )
        ],
        "Deployment aggregator container aggregator: root filesystem not read-only",
    ),
    "readiness probe removed": (
        [
            json_patch(
                "Deployment", "nouns", {"op": "remove", "path": f"{CONTAINER}/readinessProbe"}
            )
        ],
        "Deployment nouns container nouns: no readinessProbe",
    ),
    "capability added": (
        [
            json_patch(
                "StatefulSet",
                "postgres",
                {
                    "op": "add",
                    "path": f"{CONTAINER}/securityContext/capabilities/add",
                    "value": ["NET_ADMIN"],
                },
            )
        ],
        "StatefulSet postgres container postgres: adds capabilities ['NET_ADMIN']",
    ),
    "token automounted": (
        [
            json_patch(
                "Job",
                "migrate-verbs",
                {
                    "op": "replace",
                    "path": "/spec/template/spec/automountServiceAccountToken",
                    "value": True,
                },
            )
        ],
        "Job migrate-verbs: automountServiceAccountToken not false",
    ),
    "image by latest": (
        [
            json_patch(
                "Deployment",
                "verbs",
                {"op": "replace", "path": f"{CONTAINER}/image", "value": "wordmix-verbs:latest"},
            )
        ],
        "Deployment verbs container verbs: image 'wordmix-verbs:latest' is not pinned",
    ),
    "runs as root": (
        [
            json_patch(
                "Deployment",
                "aggregator",
                {
                    "op": "replace",
                    "path": "/spec/template/spec/securityContext/runAsUser",
                    "value": 0,
                },
                {"op": "replace", "path": f"{CONTAINER}/securityContext/runAsUser", "value": 0},
            )
        ],
        "Deployment aggregator container aggregator: no fixed non-root runAsUser",
    ),
    "no /tmp emptyDir": (
        [
            json_patch(
                "Deployment", "verbs", {"op": "remove", "path": f"{CONTAINER}/volumeMounts/0"}
            )
        ],
        "Deployment verbs container verbs: no emptyDir at /tmp",
    ),
    "Pod Security label removed": (
        [
            json_patch(
                "Namespace",
                "app",
                {"op": "remove", "path": "/metadata/labels/pod-security.kubernetes.io~1enforce"},
            )
        ],
        "Namespace app: PSA enforce not restricted",
    ),
    "deny-all NetworkPolicy deleted": (
        [delete_network_policy("default-deny-all")],
        "no default deny-all NetworkPolicy",
    ),
}


@pytest.mark.parametrize("mutation", MUTATIONS, ids=list(MUTATIONS))
def test_hardening_checks_catch_a_regression(mutation: str, tmp_path: Path) -> None:
    patches, expected = MUTATIONS[mutation]
    problems = hardening_problems(render_with_patches(tmp_path, "local", patches))
    assert any(problem.startswith(expected) for problem in problems), problems


NETWORK_MUTATIONS = {
    "PostgreSQL opened to every pod in the namespace": (
        [
            json_patch(
                "NetworkPolicy",
                "postgres",
                {"op": "replace", "path": "/spec/ingress/0/from", "value": [{"podSelector": {}}]},
            ),
            json_patch(
                "NetworkPolicy",
                "aggregator",
                {
                    "op": "add",
                    "path": "/spec/egress/-",
                    "value": {"to": [{"podSelector": {"matchLabels": {"app": "postgres"}}}]},
                },
            ),
        ],
        "aggregator -> postgres:5432 is allowed",
    ),
    "aggregator's egress to the word services dropped": (
        [json_patch("NetworkPolicy", "aggregator", {"op": "remove", "path": "/spec/egress"})],
        "aggregator -> verbs:8000 is refused",
    ),
    "gateway may reach the word services": (
        [
            json_patch(
                "NetworkPolicy",
                "wordmix-gateway",
                {"op": "replace", "path": "/spec/egress/0/to", "value": [{"podSelector": {}}]},
            ),
            json_patch(
                "NetworkPolicy",
                "word-services",
                {"op": "replace", "path": "/spec/ingress/0/from", "value": [{"podSelector": {}}]},
            ),
        ],
        "wordmix-gateway -> verbs:8000 is allowed",
    ),
    "DNS egress removed": (
        [delete_network_policy("allow-dns")],
        "verbs cannot resolve names (DNS in kube-system)",
    ),
}


@pytest.mark.parametrize("mutation", NETWORK_MUTATIONS, ids=list(NETWORK_MUTATIONS))
def test_reachability_check_catches_a_regression(mutation: str, tmp_path: Path) -> None:
    patches, expected = NETWORK_MUTATIONS[mutation]
    problems = reachability_problems(render_with_patches(tmp_path, "local", patches))
    assert expected in problems, problems


# --- the cluster's own policies -------------------------------------------------------------


@pytest.mark.parametrize("overlay", OVERLAYS)
def test_the_app_passes_the_clusters_kyverno_policies(overlay: str, tmp_path: Path) -> None:
    """What make deploy applies must be admitted by what it installed just before."""
    rendered = run([kubectl(), "kustomize", str(ROOT / "deploy/overlays" / overlay)])
    failed, output = kyverno_apply(tmp_path, rendered.stdout)
    assert failed == 0, output


def test_kyverno_refuses_the_app_with_a_latest_image(tmp_path: Path) -> None:
    docs = render_with_patches(
        tmp_path,
        "local",
        [
            json_patch(
                "Deployment",
                "verbs",
                {"op": "replace", "path": f"{CONTAINER}/image", "value": "wordmix-verbs:latest"},
            )
        ],
    )
    failed, output = kyverno_apply(tmp_path, "---\n".join(_yaml(doc) for doc in docs))
    assert failed >= 1
    assert "disallow-latest-tag" in output
