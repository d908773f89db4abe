"""The Kyverno layer, checked by the real Kyverno CLI (scripts/tools/kyverno.sh, pinned in
deploy/versions.env): every policy's own tests, the app's manifests as deploy/ renders them,
the demo's bad resources, and proof that the tests fail when a policy is broken."""

from __future__ import annotations

import re
import shutil
from collections.abc import Callable
from pathlib import Path

import _kyverno as k
import pytest
import yaml

pytestmark = pytest.mark.security

POLICIES = k.policies()
ANNOTATIONS = ("title", "category", "severity", "subject", "description")
# Validate rules that block outside namespace app too, and why.
ENFORCED_OUTSIDE_APP = {
    # Its subject is wordmix workloads outside namespace app: an Audit result there would
    # protect nothing.
    ("restrict-wordmix-namespace", "wordmix-workloads-in-app"),
}


def ids(policies: list[k.Policy]) -> list[str]:
    return [p.name for p in policies]


def test_policies_found() -> None:
    assert len(POLICIES) >= 12, [p.name for p in POLICIES]


def test_kyverno_test_passes_for_every_policy() -> None:
    done = k.kyverno_test(k.KYVERNO_DIR)
    output = done.stdout + done.stderr
    assert done.returncode == 0, output[-20000:]
    summary = re.search(r"Test Summary: (\d+) tests passed and (\d+) tests failed", output)
    assert summary, output[-20000:]
    passed, failed = map(int, summary.groups())
    declared = sum(len(result["resources"]) for p in POLICIES for result in k.declared_results(p))
    assert failed == 0, output[-20000:]
    # Every declared result was really checked (none lost to a typo in a resource name).
    assert passed >= declared, (passed, declared)


@pytest.mark.parametrize("policy", POLICIES, ids=ids(POLICIES))
def test_declared_results_are_what_the_engine_says(policy: k.Policy) -> None:
    problems = k.check_declared_results(policy)
    assert not problems, "\n".join(problems)


@pytest.mark.parametrize("policy", POLICIES, ids=ids(POLICIES))
def test_policy_is_documented_and_tested(policy: k.Policy) -> None:
    metadata = policy.doc["metadata"]
    assert policy.doc["apiVersion"] == "kyverno.io/v1"
    assert policy.doc["kind"] == "ClusterPolicy"
    assert metadata["name"] == policy.name, "the folder is named after the policy"
    for key in ANNOTATIONS:
        assert metadata["annotations"].get(f"policies.kyverno.io/{key}"), key
    assert policy.test_file.exists(), f"{policy.name} has no .kyverno-test/kyverno-test.yaml"
    test = yaml.safe_load(policy.test_file.read_text())
    assert test["apiVersion"] == "cli.kyverno.io/v1alpha1"
    assert test["kind"] == "Test"
    assert test["policies"] == [f"../{policy.name}.yaml"]


@pytest.mark.parametrize("policy", POLICIES, ids=ids(POLICIES))
def test_every_rule_passes_fails_and_skips_in_its_tests(policy: k.Policy) -> None:
    results = k.declared_results(policy)
    for rule in policy.rules:
        mine = [r for r in results if r["rule"] == rule["name"]]
        seen = {r["result"] for r in mine}
        if "mutate" in rule:
            # Kyverno has no "fail" result for a mutation (it passes, skips or errors): what
            # a wrong mutation does is caught by the expected objects in patchedResources,
            # and test_a_broken_policy_fails_its_tests proves that comparison fails.
            assert {"pass", "skip"} <= seen, (rule["name"], seen)
            assert any(r["result"] == "pass" and r.get("patchedResources") for r in mine)
        else:
            assert {"pass", "fail", "skip"} <= seen, (rule["name"], seen)
        # Pod controllers are checked too (autogen, or kinds named in the rule).
        assert any(r["kind"] in k.POD_CONTROLLERS and r["result"] != "skip" for r in mine), (
            f"{rule['name']}: no result for a Deployment, StatefulSet, Job or CronJob"
        )


@pytest.mark.parametrize("policy", POLICIES, ids=ids(POLICIES))
def test_scope_enforce_in_app_audit_elsewhere_stack_excluded(policy: k.Policy) -> None:
    for rule in policy.rules:
        matched = [
            set(block["resources"].get("namespaces", [])) for block in rule["match"].get("any", [])
        ]
        only_app = all(namespaces == {k.APP_NAMESPACE} for namespaces in matched)
        excluded = set()
        for block in (rule.get("exclude") or {}).get("any", []):
            excluded |= set(block["resources"].get("namespaces", []))
        assert only_app or excluded >= k.STACK_NAMESPACES, (
            f"{rule['name']} can act on the security stack's namespaces"
        )
        if "validate" in rule:
            validate = rule["validate"]
            assert len(validate.get("message", "")) > 40, f"{rule['name']}: say how to fix it"
            assert k.enforced(rule, k.APP_NAMESPACE), f"{rule['name']} must block in app"
            blocks_elsewhere = k.enforced(rule, "default")
            expected = only_app or (policy.name, rule["name"]) in ENFORCED_OUTSIDE_APP
            if not only_app:
                assert blocks_elsewhere == expected, f"{rule['name']}: outside app it should " + (
                    "block" if expected else "only report (Audit)"
                )


@pytest.mark.parametrize("policy", POLICIES, ids=ids(POLICIES))
def test_engine_blocks_in_app_and_only_reports_elsewhere(policy: k.Policy) -> None:
    """The same, as the engine itself resolves each rule's failure action per namespace:
    with --audit-warn a failure that would only be reported shows as "warn"."""
    test_dir = policy.test_file.parent
    applied = k.apply([policy.path], [test_dir / "resource.yaml"], audit_warn=True)
    negative = [v for v in applied.verdicts if v.result in {"fail", "warn"}]
    if any("validate" in rule for rule in policy.rules):
        assert any(v.namespace == k.APP_NAMESPACE for v in negative), "no failure in app"
    for verdict in negative:
        blocks = verdict.namespace == k.APP_NAMESPACE or (
            (policy.name, verdict.rule) in ENFORCED_OUTSIDE_APP
        )
        assert verdict.result == ("fail" if blocks else "warn"), verdict


def test_kustomization_lists_every_policy() -> None:
    kustomization = yaml.safe_load((k.KYVERNO_DIR / "kustomization.yaml").read_text())
    listed = sorted(kustomization["resources"])
    assert listed == sorted(f"{p.name}/{p.name}.yaml" for p in POLICIES)


def test_deploy_has_overlays() -> None:
    assert k.overlays(), (
        "deploy/overlays/*/kustomization.yaml: none found, so the app's manifests cannot be "
        "checked against the policies"
    )


@pytest.mark.parametrize("overlay", k.overlays(), ids=lambda p: p.name)
def test_app_manifests_pass_every_policy(overlay: Path, tmp_path: Path) -> None:
    applied = k.apply([k.policy_bundle(tmp_path)], [k.render(overlay, tmp_path)])
    failures = "\n".join(
        f"{v.policy}/{v.rule} {v.kind} {v.namespace}/{v.name}: {v.result}: {v.message}"
        for v in applied.failures()
    )
    assert not failures, failures
    assert applied.returncode == 0, applied.output[-6000:]
    # Not vacuous: every validate rule really looked at the app's workloads.
    passed = {(v.policy, v.rule) for v in applied.verdicts if v.result == "pass"}
    for policy in POLICIES:
        for rule in policy.rules:
            if "validate" in rule:
                assert (policy.name, rule["name"]) in passed, (policy.name, rule["name"])


BAD_FILES = sorted(k.BAD_RESOURCES.glob("*.yaml"))


def test_bad_resources_exist() -> None:
    assert len(BAD_FILES) >= 10


@pytest.mark.parametrize("bad", BAD_FILES, ids=lambda p: p.name)
def test_bad_resource_is_rejected(bad: Path, tmp_path: Path) -> None:
    """Mutations first, then validations, as in the cluster: the file is refused by exactly
    the rules its `# rejected-by:` lines name, and each of them blocks (Enforce)."""
    expected = set(re.findall(r"^# rejected-by: (\S+)/(\S+)$", bad.read_text(), re.M))
    assert expected, f"{bad.name}: no '# rejected-by: policy/rule' line"
    applied = k.apply([k.policy_bundle(tmp_path)], [bad])
    assert applied.returncode != 0, applied.output[-6000:]
    failed = {(v.policy, v.rule) for v in applied.failures()}
    assert failed == expected, applied.output[-6000:]
    by_name = {p.name: p for p in POLICIES}
    (doc,) = k.load_docs(bad)
    namespace = doc["metadata"]["namespace"]
    for policy, rule in failed:
        assert k.enforced(by_name[policy].rule(rule), namespace), f"{policy}/{rule} only audits"
    # And as the engine sees it: blocking failures stay failures with --audit-warn.
    warned = k.apply([k.policy_bundle(tmp_path)], [bad], audit_warn=True)
    assert {(v.policy, v.rule) for v in warned.verdicts if v.result == "fail"} == expected


# How a policy can be broken, and the test that must then fail. Each one is a mistake the
# original policies made or an easy slip.
def _replace(old: str, new: str, count: int = -1) -> Callable[[str], str]:
    def edit(text: str) -> str:
        assert old in text, f"the mutation no longer applies: {old!r} not found"
        return text.replace(old, new, count)

    return edit


def _drop_stack_exclusion(text: str) -> str:
    edited = re.sub(r"\n      exclude:\n        any:\n          - resources:\n.*\n", "\n", text)
    assert edited != text, "the mutation no longer applies: no exclude block"
    return edited


BREAKAGES = {
    "defaults-overwrite-existing-limits": (
        "add-default-resources",
        _replace(
            """                - key: "{{ element.resources.limits.cpu || '' }}"
                  operator: Equals
                  value: ""
""",
            "",
        ),
    ),
    "defaults-only-first-container": (
        "add-default-resources",
        _replace("list: podSpec.containers ||", "list: podSpec.containers[:1] ||"),
    ),
    "readonly-only-first-container": (
        "add-ro-rootfs",
        _replace("list: podSpec.containers ||", "list: podSpec.containers[:1] ||"),
    ),
    "readonly-overwrites-explicit-false": (
        "add-ro-rootfs",
        _replace('value: "null"', 'value: "false"', 1),
    ),
    "ro-rootfs-check-forgets-stack-exclusion": ("require-ro-rootfs", _drop_stack_exclusion),
    "limits-check-forgets-init-containers": (
        "require-resource-limits",
        _replace("=(initContainers):", "=(ignoredContainers):"),
    ),
    "probes-check-forgets-istio-proxy": (
        "require-pod-probes",
        _replace("value: istio-proxy", "value: no-such-container"),
    ),
    # The original policy only looked at Deployments; kyverno test alone would not notice,
    # because it counts resources a rule does not match as passing whatever was declared.
    "namespace-check-only-deployments": (
        "restrict-wordmix-namespace",
        _replace(
            "kinds: [Deployment, StatefulSet, DaemonSet, ReplicaSet, Job, CronJob, Pod]\n"
            "              selector:",
            "kinds: [Deployment]\n              selector:",
        ),
    ),
    "token-check-accepts-true": (
        "disallow-token-automount",
        _replace("automountServiceAccountToken: false\n", "automountServiceAccountToken: '*'\n"),
    ),
}


@pytest.mark.parametrize("breakage", sorted(BREAKAGES))
def test_a_broken_policy_fails_its_tests(breakage: str, tmp_path: Path) -> None:
    name, edit = BREAKAGES[breakage]
    copy = tmp_path / name
    shutil.copytree(k.KYVERNO_DIR / name, copy)
    policy_file = copy / f"{name}.yaml"
    policy_file.write_text(edit(policy_file.read_text()))
    assert k.suite_failures(tmp_path), f"{breakage}: the broken policy still passes its tests"


@pytest.mark.parametrize("native", [False, True], ids=["classic-sidecar", "native-sidecar"])
@pytest.mark.parametrize("overlay", k.overlays(), ids=lambda p: p.name)
def test_istio_injected_pods_pass_every_policy(overlay: Path, native: bool, tmp_path: Path) -> None:
    """Kyverno validates a Pod after every mutating webhook, Istio's sidecar injector
    included, so the containers Istio adds must pass too. They do only with the Istio CNI
    node agent: without it Istio injects istio-init, which runs as root with NET_ADMIN and
    NET_RAW and a writable root filesystem (Pod Security 'restricted' refuses it as well)."""
    from _istio import istioctl  # the pinned istioctl, built by scripts/tools/istioctl.sh

    binary = istioctl()
    injector = k.istio_injector_files(binary, k.ISTIO_PROFILE, tmp_path)
    rendered = k.render(overlay, tmp_path)
    injected, sidecars = k.inject_sidecars(binary, injector, rendered, tmp_path, native)
    assert sidecars > 0, "istioctl kube-inject added no sidecar: nothing was checked"
    applied = k.apply([k.policy_bundle(tmp_path)], [injected])
    failures = "\n".join(
        sorted({f"{v.policy}/{v.rule} {v.kind} {v.name}: {v.message}" for v in applied.failures()})
    )
    assert not failures, (
        f"Pods in namespace app as Istio injects them ({k.ISTIO_PROFILE.relative_to(k.ROOT)}) "
        "are refused. If istio-init is what fails, enable the Istio CNI node agent there "
        "(spec.components.cni.enabled: true).\n" + failures
    )
    assert applied.returncode == 0, applied.output[-6000:]


def test_istio_cni_makes_injected_pods_pass(tmp_path: Path) -> None:
    """The fix the previous test asks for, proven: the same profile with the CNI node agent."""
    from _istio import istioctl

    binary = istioctl()
    profile = yaml.safe_load(k.ISTIO_PROFILE.read_text())
    profile["spec"].setdefault("components", {})["cni"] = {"enabled": True}
    with_cni = tmp_path / "profile-cni.yaml"
    with_cni.write_text(yaml.safe_dump(profile))
    injector = k.istio_injector_files(binary, with_cni, tmp_path)
    for overlay in k.overlays():
        rendered = k.render(overlay, tmp_path)
        for native in (False, True):
            injected, sidecars = k.inject_sidecars(binary, injector, rendered, tmp_path, native)
            assert sidecars > 0
            text = injected.read_text()
            assert "name: istio-validation\n" in text and "name: istio-init\n" not in text
            applied = k.apply([k.policy_bundle(tmp_path)], [injected])
            assert not applied.failures(), applied.output[-6000:]


def test_helm_values_keep_the_webhooks_out_of_the_stack_namespaces() -> None:
    """The chart's webhooks skip the same namespaces the policies exclude (the chart adds
    its own namespace, kyverno, by itself)."""
    values = yaml.safe_load((k.KYVERNO_DIR / "values.yaml").read_text())
    (expression,) = values["config"]["webhooks"]["namespaceSelector"]["matchExpressions"]
    assert expression["key"] == "kubernetes.io/metadata.name"
    assert expression["operator"] == "NotIn"
    assert set(expression["values"]) == k.STACK_NAMESPACES - {"kyverno"}
