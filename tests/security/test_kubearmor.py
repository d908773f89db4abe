"""KubeArmor layer: the policies are valid, select the app's real pods, and name real paths.

The original deployment's policies selected `app: nginx` and never applied to anything; the
selection tests render the app's own overlays and fail on a policy that selects no pod. No
KubeArmor runs here: enforcement itself needs a cluster (make verify KUBEARMOR=1).
"""

from __future__ import annotations

import copy
import json
import os
import re
import shutil
import stat
import subprocess
from pathlib import Path
from typing import Any

import jsonschema
import pytest
import yaml
from _kubearmor import (
    CONTAINER_NAME_KEY,
    DOCKERFILE,
    KUBEARMOR_DIR,
    NAMESPACE,
    OVERLAYS_DIR,
    POLICY_SCHEMA,
    PodTemplate,
    container_names,
    kustomize,
    pod_templates,
    policies,
    policy_paths,
    selected_containers,
    unselective_policies,
)

pytestmark = pytest.mark.security

DENY_POLICIES = {"block-package-managers", "block-service-account-token", "audit-etc-writes"}
# The paths the image engineer's Dockerfile promises, each with the Dockerfile text that makes
# it true (all patterns must match).
PROMISED_IMAGE_PATHS: dict[str, list[str]] = {
    "/app": [r"(?m)^WORKDIR /app$", r"COPY --from=build /app /app"],
    # `python -m venv` makes bin/python (and python3, python3.X) links to its interpreter; the
    # images start the server with it.
    "/opt/venv/bin/python": [
        r"python3 -m venv /opt/venv",
        r"COPY --from=build /opt/venv",
        r'ENTRYPOINT \["/opt/venv/bin/python", "/app/serve.py"\]',
    ],
    # Debian trixie's python3 package is Python 3.13, in /usr/bin, in the runtime stage too.
    "/usr/bin/python3.13": [
        r"debian:trixie",
        r"(?s)AS runtime.*apt-get install -y --no-install-recommends python3\b",
    ],
}


@pytest.fixture(scope="module")
def rendered_policies() -> list[dict[str, Any]]:
    return policies()


@pytest.fixture(scope="module")
def overlay_pods() -> dict[str, list[PodTemplate]]:
    overlays = sorted(p for p in OVERLAYS_DIR.glob("*") if (p / "kustomization.yaml").exists())
    assert overlays, (
        f"no kustomize overlay under {OVERLAYS_DIR}: the policies can only be checked against "
        "the app's rendered manifests (deploy/overlays/*)"
    )
    return {
        overlay.name: [p for p in pod_templates(kustomize(overlay)) if p.namespace == NAMESPACE]
        for overlay in overlays
    }


def by_name(items: list[dict[str, Any]], name: str) -> dict[str, Any]:
    return next(p for p in items if p["metadata"]["name"] == name)


def schema_errors(policy: dict[str, Any]) -> list[str]:
    validator = jsonschema.Draft202012Validator(POLICY_SCHEMA)
    return [
        f"{'/'.join(map(str, e.absolute_path))}: {e.message}" for e in validator.iter_errors(policy)
    ]


# --- the policies themselves -------------------------------------------------------------------


def test_schema_is_a_valid_json_schema():
    jsonschema.Draft202012Validator.check_schema(POLICY_SCHEMA)


def test_every_policy_validates_against_the_kubearmorpolicy_schema(
    rendered_policies: list[dict[str, Any]],
):
    problems = {p["metadata"]["name"]: schema_errors(p) for p in rendered_policies}
    assert {name: errs for name, errs in problems.items() if errs} == {}


@pytest.mark.parametrize(
    ("mutate", "expected"),
    [
        (lambda s: s["process"].update(matchPath=s["process"].pop("matchPaths")), "matchPath"),
        (lambda s: s.update(action="Deny"), "'Deny' is not one of"),
        (lambda s: s.update(severity=11), "11 is greater than the maximum"),
        (lambda s: s["process"]["matchPaths"][0].update(path="usr/bin/apt"), "does not match"),
        (lambda s: s.pop("selector"), "'selector' is a required property"),
        (lambda s: s["selector"].update(matchLabels={}), "should be non-empty"),
    ],
    ids=["misspelt-key", "bad-action", "bad-severity", "relative-path", "no-selector", "empty"],
)
def test_schema_rejects_what_kubearmor_would_refuse_or_prune(
    rendered_policies: list[dict[str, Any]], mutate: Any, expected: str
):
    policy = copy.deepcopy(by_name(rendered_policies, "block-package-managers"))
    mutate(policy["spec"])
    errors = schema_errors(policy)
    assert any(expected in e for e in errors), errors


def test_directory_rules_end_with_a_slash(rendered_policies: list[dict[str, Any]]):
    # KubeArmor's CRD only accepts "/dir/" for matchDirectories; "/etc" would be refused.
    policy = copy.deepcopy(by_name(rendered_policies, "audit-etc-writes"))
    policy["spec"]["file"]["matchDirectories"][0]["dir"] = "/etc"
    assert any("does not match" in e for e in schema_errors(policy))


def test_kustomization_applies_every_policy_file_into_namespace_app(
    rendered_policies: list[dict[str, Any]],
):
    files = {p.name for p in KUBEARMOR_DIR.glob("*.yaml")} - {"kustomization.yaml"}
    listed = set(yaml.safe_load((KUBEARMOR_DIR / "kustomization.yaml").read_text())["resources"])
    assert listed == files
    assert {p["kind"] for p in rendered_policies} == {"KubeArmorPolicy"}
    assert {p["metadata"]["namespace"] for p in rendered_policies} == {NAMESPACE}
    names = [p["metadata"]["name"] for p in rendered_policies]
    assert len(names) == len(set(names))
    assert set(names) >= DENY_POLICIES


def test_deny_policies_keep_the_originals_actions(rendered_policies: list[dict[str, Any]]):
    actions = {name: by_name(rendered_policies, name)["spec"]["action"] for name in DENY_POLICIES}
    assert actions == {
        "block-package-managers": "Block",
        "block-service-account-token": "Block",
        "audit-etc-writes": "Audit",
    }
    token_dirs = policy_paths(by_name(rendered_policies, "block-service-account-token"))
    assert set(token_dirs) == {
        "/var/run/secrets/kubernetes.io/serviceaccount/",
        "/run/secrets/kubernetes.io/serviceaccount/",
    }


# --- selection against the app's rendered manifests ------------------------------------------


def test_every_policy_selects_a_pod_in_every_overlay(
    rendered_policies: list[dict[str, Any]], overlay_pods: dict[str, list[PodTemplate]]
):
    for overlay, pods in overlay_pods.items():
        assert pods, f"overlay {overlay} renders no pod in namespace {NAMESPACE}"
        assert unselective_policies(rendered_policies, pods) == [], overlay


def test_mutation_original_nginx_selector_selects_nothing(
    rendered_policies: list[dict[str, Any]], overlay_pods: dict[str, list[PodTemplate]]
):
    broken = copy.deepcopy(rendered_policies)
    by_name(broken, "block-package-managers")["spec"]["selector"]["matchLabels"] = {"app": "nginx"}
    for pods in overlay_pods.values():
        assert unselective_policies(broken, pods) == ["block-package-managers"]


def test_mutation_wrong_container_name_selects_nothing(
    rendered_policies: list[dict[str, Any]], overlay_pods: dict[str, list[PodTemplate]]
):
    broken = copy.deepcopy(rendered_policies)
    labels = by_name(broken, "allow-verbs-processes")["spec"]["selector"]["matchLabels"]
    labels["kubearmor.io/container.name"] = "[app]"
    for pods in overlay_pods.values():
        assert unselective_policies(broken, pods) == ["allow-verbs-processes"]


def wordmix_containers(pods: list[PodTemplate]) -> list[tuple[PodTemplate, str, Any]]:
    """(pod, container, command) for every container running one of the wordmix images."""
    return [
        (pod, name, command)
        for pod in pods
        for name, image, command in pod.runs
        if re.search(r"(^|/)wordmix-(verbs|nouns|aggregator)(:|@|$)", image)
    ]


def test_deny_policies_cover_every_wordmix_container(
    rendered_policies: list[dict[str, Any]], overlay_pods: dict[str, list[PodTemplate]]
):
    for overlay, pods in overlay_pods.items():
        containers = wordmix_containers(pods)
        assert len({pod.owner for pod, _, _ in containers}) >= 3, overlay
        for name in DENY_POLICIES:
            policy = by_name(rendered_policies, name)
            uncovered = [
                f"{pod.owner}/{c}"
                for pod, c, _ in containers
                if c not in selected_containers(policy, pod)
            ]
            assert uncovered == [], f"{overlay}: {name}"


def test_deny_policies_cover_postgres_but_no_sidecar(
    rendered_policies: list[dict[str, Any]], overlay_pods: dict[str, list[PodTemplate]]
):
    for overlay, pods in overlay_pods.items():
        postgres = [pod for pod in pods if pod.labels.get("app") == "postgres"]
        assert postgres, f"{overlay}: no PostgreSQL pod"
        for name in DENY_POLICIES:
            policy = by_name(rendered_policies, name)
            assert "postgres" in selected_containers(policy, postgres[0]), f"{overlay}: {name}"
            assert "istio-proxy" not in container_names(
                policy["spec"]["selector"]["matchLabels"][CONTAINER_NAME_KEY]
            )


def test_every_container_a_selector_names_exists(
    rendered_policies: list[dict[str, Any]], overlay_pods: dict[str, list[PodTemplate]]
):
    # A misspelt name in "[verbs, nouns, ...]" would silently leave that container unprotected.
    for overlay, pods in overlay_pods.items():
        for policy in rendered_policies:
            wanted = policy["spec"]["selector"]["matchLabels"].get(CONTAINER_NAME_KEY)
            if wanted is None:
                continue
            found = set().union(*(selected_containers(policy, pod) for pod in pods))
            missing = container_names(wanted) - found
            assert missing == set(), f"{overlay}: {policy['metadata']['name']} names {missing}"


def image_entrypoint() -> tuple[str, ...]:
    assert DOCKERFILE.exists(), f"{DOCKERFILE} is missing: the image layout cannot be checked"
    match = re.search(r"(?m)^ENTRYPOINT (\[.*\])$", DOCKERFILE.read_text())
    assert match, "the Dockerfile has no exec-form ENTRYPOINT"
    return tuple(json.loads(match.group(1)))


def test_each_wordmix_container_has_one_allow_list_that_covers_what_it_runs(
    rendered_policies: list[dict[str, Any]], overlay_pods: dict[str, list[PodTemplate]]
):
    allow = [p for p in rendered_policies if p["spec"]["action"] == "Allow"]
    entrypoint = image_entrypoint()
    for overlay, pods in overlay_pods.items():
        for pod, container, command in wordmix_containers(pods):
            covering = [p for p in allow if container in selected_containers(p, pod)]
            where = f"{overlay}: {pod.owner}/{container}"
            assert len(covering) == 1, f"{where}: {[p['metadata']['name'] for p in covering]}"
            allowed = set(policy_paths(covering[0]))
            executable = (command or entrypoint)[0]
            assert executable in allowed, f"{where} runs {executable}, not in {sorted(allowed)}"
            # Whatever the script or link names, the kernel finally runs Debian's interpreter.
            assert "/usr/bin/python3.13" in allowed, where


def test_allow_lists_do_not_reach_the_sidecar(rendered_policies: list[dict[str, Any]]):
    for policy in rendered_policies:
        if policy["spec"]["action"] == "Allow":
            labels = policy["spec"]["selector"]["matchLabels"]
            assert "kubearmor.io/container.name" in labels, policy["metadata"]["name"]


# --- paths against the image layout ------------------------------------------------------------


def test_allowed_paths_are_paths_the_image_has(rendered_policies: list[dict[str, Any]]):
    assert DOCKERFILE.exists(), f"{DOCKERFILE} is missing: the image layout cannot be checked"
    text = DOCKERFILE.read_text()
    for path, evidence in PROMISED_IMAGE_PATHS.items():
        missing = [pattern for pattern in evidence if not re.search(pattern, text)]
        assert missing == [], f"the Dockerfile no longer makes {path} true: {missing}"
    for policy in rendered_policies:
        if policy["spec"]["action"] == "Allow":
            unknown = set(policy_paths(policy)) - set(PROMISED_IMAGE_PATHS)
            assert unknown == set(), f"{policy['metadata']['name']}: {sorted(unknown)}"


def test_blocked_debian_tools_are_where_debian_installs_them(
    rendered_policies: list[dict[str, Any]],
):
    # The image is Debian (trixie); this machine's Debian package database gives the same
    # merged-/usr locations for apt and dpkg, which KubeArmor sees after resolving /bin.
    dpkg_query = shutil.which("dpkg-query")
    assert dpkg_query, "dpkg-query is needed (a Debian machine): apt-get install dpkg"
    blocked = policy_paths(by_name(rendered_policies, "block-package-managers"))
    for path in [p for p in blocked if p.startswith("/usr/bin/") and "pip" not in p]:
        result = subprocess.run(
            [dpkg_query, "-S", path], capture_output=True, text=True, check=False
        )
        assert result.returncode == 0, f"no Debian package installs {path}: {result.stderr}"


def test_blocked_pip_paths_are_what_pip_installs_in_a_venv(
    rendered_policies: list[dict[str, Any]],
):
    # The project's own .venv is a Python 3.13 virtualenv like /opt/venv: pip puts the same
    # three launchers in its bin/.
    venv_bin = Path(__file__).resolve().parents[2] / ".venv" / "bin"
    blocked = policy_paths(by_name(rendered_policies, "block-package-managers"))
    venv_pips = {p.removeprefix("/opt/venv/bin/") for p in blocked if p.startswith("/opt/venv/")}
    assert venv_pips == {"pip", "pip3", "pip3.13"}
    missing = [name for name in venv_pips if not (venv_bin / name).exists()]
    assert missing == [], f"{venv_bin} lacks {missing}: run `make venv`"


# --- the Audit -> Block switch -----------------------------------------------------------------


@pytest.fixture
def fake_kubectl(tmp_path: Path) -> tuple[Path, Path]:
    log = tmp_path / "kubectl.log"
    fake = tmp_path / "kubectl"
    fake.write_text(f'#!/bin/sh\nprintf "%s\\n" "$@" > "{log}"\n')
    fake.chmod(fake.stat().st_mode | stat.S_IXUSR)
    return fake, log


def run_posture(*args: str, kubectl: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [str(KUBEARMOR_DIR / "posture.sh"), *args],
        capture_output=True,
        text=True,
        check=False,
        env={**os.environ, "KUBECTL": kubectl},
    )


@pytest.mark.parametrize("mode", ["audit", "block"])
def test_posture_switch_annotates_namespace_app(fake_kubectl: tuple[Path, Path], mode: str):
    fake, log = fake_kubectl
    result = run_posture(mode, kubectl=str(fake))
    assert result.returncode == 0, result.stderr
    assert log.read_text().split() == [
        "annotate",
        "namespace",
        "app",
        f"kubearmor-file-posture={mode}",
        "--overwrite",
    ]


def test_posture_switch_refuses_anything_else(fake_kubectl: tuple[Path, Path]):
    fake, log = fake_kubectl
    assert run_posture("enforce", kubectl=str(fake)).returncode == 2
    assert not log.exists()


def test_posture_switch_names_the_missing_kubectl(tmp_path: Path):
    result = run_posture("block", kubectl=str(tmp_path / "no-kubectl"))
    assert result.returncode == 1
    assert "install kubectl" in result.stderr


def test_posture_script_passes_shellcheck():
    shellcheck = shutil.which("shellcheck")
    assert shellcheck, "shellcheck is needed: apt-get install shellcheck"
    result = subprocess.run(
        [shellcheck, str(KUBEARMOR_DIR / "posture.sh")], capture_output=True, text=True
    )
    assert result.returncode == 0, result.stdout
