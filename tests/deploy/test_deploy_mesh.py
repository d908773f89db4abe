"""The app's pods as they will run: with the Istio sidecar injected, by the pinned istioctl,
with the injection configuration of the very install that `make deploy` runs.

The install's arguments are taken from the DRY_RUN plan (`istioctl install ...`), rendered with
`istioctl manifest generate`, and the app's overlays go through `istioctl kube-inject` with the
resulting injector templates, values and mesh config. The injected pods must still pass Pod
Security `restricted` (namespace app enforces it) and the cluster's Kyverno policies.
"""

from __future__ import annotations

import os
import re
import shlex
from pathlib import Path

import pytest
import yaml
from _deploy import (
    OVERLAYS,
    ROOT,
    WORKLOAD_KINDS,
    Doc,
    find,
    generated_gateway,
    go_module_dir,
    kubectl,
    kyverno_apply,
    of_kind,
    pod_security_restricted_problems,
    pod_spec,
    render,
    run,
    tool,
    versions,
)

pytestmark = pytest.mark.deploy


def planned_istio_install() -> list[str]:
    """The arguments after `istioctl install -y` in the plan of make deploy (on kind)."""
    result = run(
        ["bash", str(ROOT / "scripts/deploy.sh"), "deploy"],
        env={**os.environ, "DRY_RUN": "1", "CLUSTER_KIND": "kind", "VERSION": "test"},
    )
    assert result.returncode == 0, result.stderr
    for line in result.stdout.splitlines():
        words = shlex.split(line.strip().removeprefix("$ "))
        if words[:3] == ["istioctl", "install", "-y"]:
            return words[3:]
    raise AssertionError(f"no `istioctl install -y` in the plan:\n{result.stdout}")


def offline_kubeconfig(tmp_path: Path) -> Path:
    """istioctl builds a Kubernetes client even for offline commands; aim it at a closed
    loopback port so that it fails at once instead of finding whatever listens on :8080."""
    path = tmp_path / "kubeconfig"
    path.write_text(
        yaml.safe_dump(
            {
                "apiVersion": "v1",
                "kind": "Config",
                "clusters": [{"name": "none", "cluster": {"server": "https://127.0.0.1:1"}}],
                "contexts": [{"name": "none", "context": {"cluster": "none", "user": "none"}}],
                "users": [{"name": "none", "user": {}}],
                "current-context": "none",
            }
        )
    )
    return path


def istio_config_maps(tmp_path: Path, install_args: list[str]) -> dict[str, dict[str, str]]:
    """The ConfigMaps (name -> data) that `istioctl install INSTALL_ARGS` would create."""
    env = {**os.environ, "KUBECONFIG": str(offline_kubeconfig(tmp_path))}
    generated = run(
        [tool("istioctl.sh"), "manifest", "generate", *install_args], env=env, timeout=120
    )
    assert generated.returncode == 0, generated.stderr
    return {
        doc["metadata"]["name"]: doc["data"]
        for doc in yaml.safe_load_all(generated.stdout)
        if doc and doc["kind"] == "ConfigMap"
    }


def inject(tmp_path: Path, install_args: list[str], overlay: str) -> list[Doc]:
    istioctl = tool("istioctl.sh")
    env = {**os.environ, "KUBECONFIG": str(offline_kubeconfig(tmp_path))}
    config_maps = istio_config_maps(tmp_path, install_args)
    injector = config_maps["istio-sidecar-injector"]
    files = {
        "inject.yaml": injector["config"],
        "values.json": injector["values"],
        "mesh.yaml": config_maps["istio"]["mesh"],
    }
    for name, text in files.items():
        (tmp_path / name).write_text(text)
    rendered = run([kubectl(), "kustomize", str(ROOT / "deploy/overlays" / overlay)])
    assert rendered.returncode == 0, rendered.stderr
    (tmp_path / "app.yaml").write_text(rendered.stdout)
    injected = run(
        [
            istioctl,
            "kube-inject",
            "--revision=default",
            f"--filename={tmp_path / 'app.yaml'}",
            f"--injectConfigFile={tmp_path / 'inject.yaml'}",
            f"--valuesFile={tmp_path / 'values.json'}",
            f"--meshConfigFile={tmp_path / 'mesh.yaml'}",
        ],
        env=env,
        timeout=120,
    )
    assert injected.returncode == 0, injected.stderr
    return [doc for doc in yaml.safe_load_all(injected.stdout) if doc]


def sidecar_of(doc: Doc) -> Doc | None:
    spec = pod_spec(doc)
    for container in spec["containers"] + spec.get("initContainers", []):
        if container["name"] == "istio-proxy":
            return container
    return None


@pytest.mark.parametrize("overlay", OVERLAYS)
def test_injected_pods_pass_pod_security_restricted(overlay: str, tmp_path: Path) -> None:
    workloads = of_kind(inject(tmp_path, planned_istio_install(), overlay), *WORKLOAD_KINDS)
    assert len(workloads) >= 6
    for doc in workloads:
        assert sidecar_of(doc) is not None, f"{doc['metadata']['name']} got no sidecar"
        assert pod_security_restricted_problems(doc) == []
        init_names = [c["name"] for c in pod_spec(doc).get("initContainers", [])]
        assert "istio-init" not in init_names


def test_migration_jobs_get_a_native_sidecar_that_ends_with_them(tmp_path: Path) -> None:
    for doc in of_kind(inject(tmp_path, planned_istio_install(), "local"), "Job"):
        spec = pod_spec(doc)
        assert [c["name"] for c in spec["containers"]] == ["migrate"]
        sidecar = next(c for c in spec["initContainers"] if c["name"] == "istio-proxy")
        assert sidecar["restartPolicy"] == "Always"


def test_without_the_cni_plugin_pod_security_would_refuse_every_pod(tmp_path: Path) -> None:
    """Why the install enables Istio's CNI plugin: the classic istio-init container needs
    NET_ADMIN and NET_RAW, which the restricted profile forbids. (The last --set wins, so this
    turns the plugin off wherever the install enables it.)"""
    args = [*planned_istio_install(), "--set", "components.cni.enabled=false"]
    docs = inject(tmp_path, args, "local")
    verbs = next(d for d in docs if d["kind"] == "Deployment" and d["metadata"]["name"] == "verbs")
    problems = pod_security_restricted_problems(verbs)
    assert any("istio-init" in p and "NET_ADMIN" in p for p in problems), problems


@pytest.mark.parametrize("overlay", OVERLAYS)
def test_injected_pods_pass_the_clusters_kyverno_policies(overlay: str, tmp_path: Path) -> None:
    docs = inject(tmp_path, planned_istio_install(), overlay)
    failed, output = kyverno_apply(tmp_path, "---\n".join(yaml.safe_dump(doc) for doc in docs))
    assert failed == 0, output


def test_the_gateway_options_are_overlays_the_pinned_istio_applies(tmp_path: Path) -> None:
    """Istio's gateway controller rejects unknown overlay keys, and its gateway template gives
    the pod a seccomp profile only from values.gateways.seccompProfile, which the planned
    install leaves empty: the Deployment overlay is what makes the gateway pass `restricted`."""
    istio = go_module_dir("istio.io/istio", versions()["ISTIO_MODULE_VERSION"])
    controller = (istio / "pilot/pkg/config/kube/gatewaycommon/deploymentcontroller.go").read_text()
    listed = re.search(r"supportedOverlays = sets\.New\((.*?)\)", controller, flags=re.DOTALL)
    assert listed, "supportedOverlays not found in Istio's deployment controller"
    supported = set(re.findall(r'"(\w+)"', listed[1]))
    template = (
        istio / "manifests/charts/istio-control/istio-discovery/files/kube-gateway.yaml"
    ).read_text()
    assert "{{- if .Values.gateways.seccompProfile }}" in template
    injector = istio_config_maps(tmp_path, planned_istio_install())["istio-sidecar-injector"]
    assert not yaml.safe_load(injector["values"])["gateways"]["seccompProfile"]
    for overlay in OVERLAYS:
        options = find(render(overlay), "ConfigMap", "wordmix-gateway-options")["data"]
        assert set(options) <= supported, overlay
        deployment = yaml.safe_load(options["deployment"])
        assert deployment["spec"]["template"]["spec"]["securityContext"]["seccompProfile"] == {
            "type": "RuntimeDefault"
        }


def gateway_pods(tmp_path: Path, docs: list[Doc]) -> list[Doc]:
    values = istio_config_maps(tmp_path, planned_istio_install())["istio-sidecar-injector"]
    (tmp_path / "render").mkdir()
    return generated_gateway(tmp_path / "render", docs, values["values"])


@pytest.mark.parametrize("overlay", OVERLAYS)
def test_the_gateway_istio_generates_passes_pod_security_and_kyverno(
    overlay: str, tmp_path: Path
) -> None:
    """The gateway's Deployment is made by istiod at run time, from its template, the install's
    values and the wordmix-gateway-options overlays; rendered here by the same code."""
    objects = gateway_pods(tmp_path, render(overlay))
    deployment = find(objects, "Deployment", "wordmix-gateway-istio")
    # The identity the AuthorizationPolicies name: cluster.local/ns/app/sa/wordmix-gateway-istio
    assert pod_spec(deployment)["serviceAccountName"] == "wordmix-gateway-istio"
    assert deployment["metadata"]["namespace"] == "app"
    assert pod_security_restricted_problems(deployment) == []
    failed, output = kyverno_apply(tmp_path, yaml.safe_dump(deployment))
    assert failed == 0, output
    service = find(objects, "Service", "wordmix-gateway-istio")
    expected_type = "ClusterIP" if overlay == "local" else "LoadBalancer"
    assert service["spec"]["type"] == expected_type
    if overlay == "production":
        assert find(objects, "HorizontalPodAutoscaler", "wordmix-gateway-istio")
        assert find(objects, "PodDisruptionBudget", "wordmix-gateway-istio")


def test_without_its_options_the_gateway_would_be_refused(tmp_path: Path) -> None:
    docs = render("local")
    gateway = find(docs, "Gateway", "wordmix-gateway")
    options = find(docs, "ConfigMap", "wordmix-gateway-options")
    options["data"] = {}
    objects = gateway_pods(tmp_path, [gateway, options])
    deployment = find(objects, "Deployment", "wordmix-gateway-istio")
    problems = pod_security_restricted_problems(deployment)
    assert any("seccomp" in problem for problem in problems), problems
    failed, output = kyverno_apply(tmp_path, yaml.safe_dump(deployment))
    assert "disallow-token-automount" in output and failed >= 1, output
