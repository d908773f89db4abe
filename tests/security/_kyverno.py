"""What the Kyverno tests share: the pinned CLI, the policies and their kyverno tests, and the
engine's own verdicts (kyverno apply's policy report), read as data."""

from __future__ import annotations

import json
import subprocess
import tempfile
from dataclasses import dataclass
from functools import cache
from pathlib import Path
from typing import Any

import pytest
import yaml

ROOT = Path(__file__).resolve().parents[2]
KYVERNO_DIR = ROOT / "security" / "kyverno"
BAD_RESOURCES = KYVERNO_DIR / "bad-resources"
KUBECTL = ROOT / ".venv" / "bin" / "kubectl"

APP_NAMESPACE = "app"
# The security stack's own namespaces: every policy leaves them alone.
STACK_NAMESPACES = frozenset({"kyverno", "falco", "istio-system", "kube-system", "kubearmor"})
POD_CONTROLLERS = frozenset(
    {"Deployment", "StatefulSet", "DaemonSet", "ReplicaSet", "Job", "CronJob"}
)
# Kyverno names the rules it generates for Pod controllers after the Pod rule.
_AUTOGEN_PREFIXES = ("autogen-cronjob-", "autogen-")


def load_docs(path: Path) -> list[dict[str, Any]]:
    return [doc for doc in yaml.safe_load_all(path.read_text()) if doc]


@cache
def kyverno() -> str:
    """Path of the pinned Kyverno CLI; scripts/tools/kyverno.sh builds it on first use."""
    script = ROOT / "scripts" / "tools" / "kyverno.sh"
    done = subprocess.run([script], capture_output=True, text=True, check=False)
    if done.returncode != 0 or not done.stdout.strip():
        pytest.fail(
            f"{script} could not provide the Kyverno CLI. It builds it from the Go module proxy, "
            "so it needs Go (apt-get install golang, or https://go.dev/doc/install) and access "
            f"to proxy.golang.org; run the script by hand to see why.\n{done.stderr[-4000:]}"
        )
    return done.stdout.strip()


def run_kyverno(*args: str | Path, cwd: Path | None = None) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [kyverno(), *map(str, args)], capture_output=True, text=True, check=False, cwd=cwd
    )


def base_rule(name: str) -> str:
    """The rule as written in the policy, for a rule Kyverno generated for Pod controllers."""
    for prefix in _AUTOGEN_PREFIXES:
        if name.startswith(prefix):
            return name.removeprefix(prefix)
    return name


@dataclass(frozen=True)
class Policy:
    name: str
    directory: Path
    doc: dict[str, Any]

    @property
    def path(self) -> Path:
        return self.directory / f"{self.name}.yaml"

    @property
    def test_file(self) -> Path:
        return self.directory / ".kyverno-test" / "kyverno-test.yaml"

    @property
    def rules(self) -> list[dict[str, Any]]:
        return self.doc["spec"]["rules"]

    def rule(self, name: str) -> dict[str, Any]:
        return next(rule for rule in self.rules if rule["name"] == base_rule(name))


def policies(root: Path = KYVERNO_DIR) -> list[Policy]:
    """Every policy folder: <name>/<name>.yaml (bad-resources/ holds no policy)."""
    found = []
    for directory in sorted(p for p in root.iterdir() if p.is_dir()):
        path = directory / f"{directory.name}.yaml"
        if path.exists():
            (doc,) = load_docs(path)
            found.append(Policy(directory.name, directory, doc))
    return found


def enforced(rule: dict[str, Any], namespace: str) -> bool:
    """Whether a failure of this validate rule blocks a resource in `namespace`."""
    validate = rule.get("validate", {})
    for override in validate.get("failureActionOverrides", []):
        if namespace in override.get("namespaces", []):
            return override["action"] == "Enforce"
    return validate.get("failureAction") == "Enforce"


@dataclass(frozen=True)
class Verdict:
    """One result of kyverno apply's policy report."""

    policy: str
    rule: str  # as written in the policy (autogen- prefixes removed)
    result: str  # pass, fail, skip, error, warn
    kind: str
    namespace: str
    name: str
    message: str


@dataclass(frozen=True)
class Applied:
    returncode: int
    output: str
    verdicts: list[Verdict]

    def failures(self) -> list[Verdict]:
        return [v for v in self.verdicts if v.result in {"fail", "error"}]


def apply(
    policy_paths: list[Path], resource_paths: list[Path], *, audit_warn: bool = False
) -> Applied:
    """Runs every mutation, then every validation (as the cluster does) and returns the
    engine's verdicts, taken from its policy report. With audit_warn, a failure of a rule
    that only audits for that resource's namespace is reported as "warn" instead of "fail"."""
    with tempfile.TemporaryDirectory() as tmp:
        args: list[str | Path] = ["apply", *policy_paths]
        for path in resource_paths:
            args += ["--resource", path]
        # -o keeps the mutated objects out of stdout, where the report is.
        args += ["--policy-report", "--output-format", "json", "--remove-color"]
        if audit_warn:
            args.append("--audit-warn")
        args += ["-o", Path(tmp) / "mutated.yaml"]
        done = run_kyverno(*args)
    output = done.stdout + done.stderr
    start = done.stdout.find('{"kind"')
    if start < 0:
        pytest.fail(f"kyverno apply printed no policy report:\n{output[-6000:]}")
    report, _ = json.JSONDecoder().raw_decode(done.stdout[start:])
    verdicts = []
    for result in report.get("results") or []:
        for resource in result.get("resources") or [{}]:
            verdicts.append(
                Verdict(
                    policy=result["policy"],
                    rule=base_rule(result.get("rule", "")),
                    result=result["result"],
                    kind=resource.get("kind", ""),
                    namespace=resource.get("namespace", ""),
                    name=resource.get("name", ""),
                    message=result.get("message", ""),
                )
            )
    return Applied(done.returncode, output, verdicts)


def policy_bundle(tmp: Path) -> Path:
    """security/kyverno/kustomization.yaml rendered into one file, as deploy applies it."""
    done = subprocess.run(
        [KUBECTL, "kustomize", KYVERNO_DIR], capture_output=True, text=True, check=False
    )
    assert done.returncode == 0, f"kubectl kustomize {KYVERNO_DIR} failed:\n{done.stderr}"
    bundle = tmp / "kyverno-policies.yaml"
    bundle.write_text(done.stdout)
    return bundle


def declared_results(policy: Policy) -> list[dict[str, Any]]:
    return yaml.safe_load(policy.test_file.read_text()).get("results") or []


def check_declared_results(policy: Policy) -> list[str]:
    """Compares every result the policy's kyverno test declares with what the engine really
    says. `kyverno test` counts a resource that a rule does not match at all as passing,
    whatever result was declared, and ignores the declared kind; this check does not."""
    test_dir = policy.test_file.parent
    test = yaml.safe_load(policy.test_file.read_text())
    applied = apply(
        [test_dir / p for p in test["policies"]], [test_dir / r for r in test["resources"]]
    )
    problems = []
    for declared in test.get("results") or []:
        if declared.get("operation"):
            # Only `kyverno test` can simulate another operation than CREATE.
            continue
        rule = declared["rule"]
        for resource in declared["resources"]:
            namespace, _, name = resource.rpartition("/")
            verdicts = [
                v
                for v in applied.verdicts
                if v.policy == declared["policy"]
                and v.rule == rule
                and v.name == name
                and namespace in {"", v.namespace}
            ]
            wanted = declared["result"]
            got = sorted({v.result for v in verdicts})
            where = f"{declared['policy']}/{rule} on {declared['kind']} {resource}"
            if wanted == "skip":
                if got not in ([], ["skip"]):
                    problems.append(f"{where}: declared skip, the engine says {got}")
            elif got != [wanted]:
                problems.append(f"{where}: declared {wanted}, the engine says {got or 'nothing'}")
            if any(v.kind != declared["kind"] for v in verdicts):
                problems.append(f"{where}: declared kind {declared['kind']}, it is another kind")
    return problems


def kyverno_test(directory: Path) -> subprocess.CompletedProcess[str]:
    return run_kyverno("test", directory, "--remove-color", "--detailed-results")


def suite_failures(root: Path = KYVERNO_DIR) -> list[str]:
    """Everything that is wrong with the policies under `root` by their own tests: the
    kyverno test run and the declared-results check. Empty when all is well."""
    failures = []
    done = kyverno_test(root)
    if done.returncode != 0 or "0 tests failed" not in done.stdout:
        failures.append(f"kyverno test {root} failed:\n{(done.stdout + done.stderr)[-12000:]}")
    for policy in policies(root):
        failures += check_declared_results(policy)
    return failures


def overlays() -> list[Path]:
    return sorted(p.parent for p in (ROOT / "deploy" / "overlays").glob("*/kustomization.yaml"))


def render(kustomization: Path, tmp: Path) -> Path:
    done = subprocess.run(
        [KUBECTL, "kustomize", kustomization], capture_output=True, text=True, check=False
    )
    assert done.returncode == 0, f"kubectl kustomize {kustomization} failed:\n{done.stderr}"
    rendered = tmp / f"{kustomization.name}.yaml"
    rendered.write_text(done.stdout)
    return rendered


ISTIO_PROFILE = ROOT / "security" / "istio" / "profile.yaml"
_INJECTABLE = POD_CONTROLLERS | {"Pod"}


def istio_injector_files(istioctl: str, profile: Path, tmp: Path) -> list[str]:
    """The sidecar injector's template, values and mesh config exactly as `istioctl install`
    of `profile` would put them in the cluster, as kube-inject arguments."""
    done = subprocess.run(
        [istioctl, "manifest", "generate", "-f", profile],
        capture_output=True,
        text=True,
        check=False,
    )
    assert done.returncode == 0, f"istioctl manifest generate failed:\n{done.stderr[-4000:]}"
    config_maps = {
        doc["metadata"]["name"]: doc["data"]
        for doc in yaml.safe_load_all(done.stdout)
        if doc and doc.get("kind") == "ConfigMap"
    }
    files = {
        "--injectConfigFile": ("inject.yaml", config_maps["istio-sidecar-injector"]["config"]),
        "--valuesFile": ("values.json", config_maps["istio-sidecar-injector"]["values"]),
        "--meshConfigFile": ("mesh.yaml", config_maps["istio"]["mesh"]),
    }
    args = []
    for flag, (name, text) in files.items():
        (tmp / name).write_text(text)
        args += [flag, str(tmp / name)]
    return args


def inject_sidecars(
    istioctl: str, injector_args: list[str], rendered: Path, tmp: Path, native: bool
) -> tuple[Path, int]:
    """The workloads of namespace app as Istio's injector changes them, with the sidecar as a
    classic container or as a native sidecar (an init container that keeps running; what
    istiod does on recent Kubernetes). Returns the file and how many sidecars were added."""
    docs = [doc for doc in yaml.safe_load_all(rendered.read_text()) if doc]
    injection = {
        doc["metadata"]["name"]: doc["metadata"].get("labels", {}).get("istio-injection")
        for doc in docs
        if doc["kind"] == "Namespace"
    }
    assert injection.get(APP_NAMESPACE) == "enabled", "namespace app has no sidecar injection"
    workloads = [
        doc
        for doc in docs
        if doc["kind"] in _INJECTABLE and doc["metadata"].get("namespace") == APP_NAMESPACE
    ]
    for doc in workloads:
        template = doc["spec"].get("jobTemplate", {}).get("spec", doc["spec"]).get("template")
        if template is not None:
            metadata = template.setdefault("metadata", {})
            annotations = metadata.setdefault("annotations", {})
            annotations["sidecar.istio.io/nativeSidecar"] = str(native).lower()
    source = tmp / f"workloads-{'native' if native else 'classic'}.yaml"
    source.write_text(yaml.safe_dump_all(workloads))
    # --revision: without it kube-inject asks a cluster for the default revision and waits.
    done = subprocess.run(
        [istioctl, "kube-inject", "--revision", "default", "-f", source, *injector_args],
        capture_output=True,
        text=True,
        check=False,
        timeout=120,
    )
    assert done.returncode == 0, f"istioctl kube-inject failed:\n{done.stderr[-4000:]}"
    injected = source.with_suffix(".injected.yaml")
    injected.write_text(done.stdout)
    sidecars = done.stdout.count("name: istio-proxy\n")
    return injected, sidecars
