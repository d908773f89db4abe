"""scripts/deploy.sh and full-install.sh: shellcheck-clean, and the DRY_RUN plan is complete,
ordered, pinned and right for each kind of cluster, without touching anything.

The dry runs execute in a copy of the files the script reads, with a PATH holding bash and a
few coreutils only: no kubectl, helm, istioctl or container engine could run, and the copy's
file listing must be the same afterwards.
"""

from __future__ import annotations

import os
import re
import shutil
import subprocess
from pathlib import Path

import pytest
import yaml
from _deploy import (
    ROOT,
    SERVICES,
    find,
    kubectl,
    kubectl_validate,
    kyverno_apply,
    of_kind,
    pod_spec,
    render,
    run,
    versions,
)

pytestmark = pytest.mark.deploy

KINDS = ("kind", "k3d", "minikube", "k3s", "remote")
# What the dry run may use: bash and the coreutils the script itself calls.
BASIC_TOOLS = ("bash", "cat", "dirname", "id", "sed", "grep", "head")
SHELL_SCRIPTS = sorted(
    [
        *ROOT.glob("scripts/*.sh"),
        *ROOT.glob("scripts/tools/*.sh"),
        *ROOT.glob("scripts/cluster/*.sh"),
        ROOT / "full-install.sh",
        ROOT / "deploy/base/postgres/init-databases.sh",
    ]
)


def test_shell_scripts_pass_shellcheck() -> None:
    shellcheck = shutil.which("shellcheck")
    if not shellcheck:
        pytest.fail("shellcheck is missing: apt-get install shellcheck (Debian/Ubuntu)")
    assert ROOT / "scripts/deploy.sh" in SHELL_SCRIPTS
    result = run([shellcheck, "-x", "--source-path=SCRIPTDIR", *map(str, SHELL_SCRIPTS)])
    assert result.returncode == 0, result.stdout + result.stderr


@pytest.fixture
def sandbox(tmp_path: Path) -> Path:
    """A copy of what deploy.sh reads, and a bin directory with only BASIC_TOOLS."""
    root = tmp_path / "repo"
    for relative in ("scripts/deploy.sh", "full-install.sh", "deploy", "security"):
        source = ROOT / relative
        target = root / relative
        target.parent.mkdir(parents=True, exist_ok=True)
        if source.is_dir():
            shutil.copytree(source, target)
        else:
            shutil.copy2(source, target)
    bin_dir = tmp_path / "bin"
    bin_dir.mkdir()
    for name in BASIC_TOOLS:
        found = shutil.which(name)
        assert found, name
        (bin_dir / name).symlink_to(found)
    return root


def deploy_sh(
    root: Path, *args: str, script: str = "scripts/deploy.sh", **env: str
) -> subprocess.CompletedProcess[str]:
    environment = {
        "PATH": str(root.parent / "bin"),
        "HOME": str(root.parent),
        "VERSION": "1.2.3-test",
        "KUBECONFIG": str(root.parent / "no-kubeconfig"),
        **env,
    }
    return subprocess.run(
        [str(root.parent / "bin/bash"), str(root / script), *args],
        capture_output=True,
        text=True,
        env=environment,
        cwd=root.parent,
        timeout=60,
        check=False,
    )


def listing(root: Path) -> list[str]:
    return sorted(str(p.relative_to(root)) for p in root.rglob("*"))


def plan(root: Path, kind: str, **env: str) -> str:
    before = listing(root)
    result = deploy_sh(root, "deploy", DRY_RUN="1", CLUSTER_KIND=kind, **env)
    assert result.returncode == 0, result.stdout + result.stderr
    assert listing(root) == before, "the dry run changed files"
    return result.stdout


def commands(output: str) -> list[str]:
    return [line.strip()[2:] for line in output.splitlines() if line.strip().startswith("$ ")]


def first_index(lines: list[str], pattern: str) -> int:
    for index, line in enumerate(lines):
        if re.search(pattern, line):
            return index
    raise AssertionError(f"no command matching {pattern!r} in the plan:\n" + "\n".join(lines))


INSTALL_ORDER = (
    r"build-images\.sh",
    r"^kubectl apply --server-side .*gateway-api/releases/download/",
    r"^istioctl install -y -f \S+/security/istio/profile\.yaml",
    r"^helm upgrade --install kyverno kyverno ",
    r"^helm upgrade --install falco falco .* -f \S+/security/falco/values\.yaml",
    r"^helm upgrade --install prometheus prometheus ",
    r"^helm upgrade --install kiali-server kiali-server ",
    r"^kubectl apply -f \S+/deploy/base/namespace\.yaml",
    r"create secret generic postgres-secrets",
    r"^kubectl apply -k \S+/security/kyverno$",
    r"^kubectl wait --for=condition=Ready clusterpolicy --all",
    r"^kubectl apply -k \S+/security/istio$",
    r"^kubectl -n app delete job migrate-verbs migrate-nouns --ignore-not-found",
    r"^kubectl apply -k \S+/var/deploy/(local|production)$",
    r"^kubectl -n app rollout status statefulset/postgres",
    r"^kubectl -n app get job migrate-verbs ",
    r"^kubectl -n app rollout status deployment/aggregator",
    r"^kubectl -n app wait --for=condition=Programmed gateway/wordmix-gateway",
)

LOADERS = {
    "kind": r"^kind load image-archive \S+/wordmix-{svc}-1\.2\.3-test\.tar --name kind$",
    "k3d": r"^k3d image import \S+/wordmix-{svc}-1\.2\.3-test\.tar --cluster k3s-default$",
    "minikube": r"^minikube image load \S+/wordmix-{svc}-1\.2\.3-test\.tar --profile minikube$",
    "k3s": r"^(sudo )?k3s ctr images import \S+/wordmix-{svc}-1\.2\.3-test\.tar$",
    "remote": r"^docker push registry\.example\.com/team/wordmix-{svc}:1\.2\.3-test$",
}


@pytest.mark.parametrize("kind", KINDS)
def test_dry_run_prints_the_full_ordered_plan(kind: str, sandbox: Path) -> None:
    env = {"REGISTRY": "registry.example.com/team"} if kind == "remote" else {}
    output = plan(sandbox, kind, **env)
    titles = re.findall(r"^==> \[(\d+)/(\d+)\] (.*)$", output, flags=re.MULTILINE)
    total = int(titles[0][1])
    assert [int(number) for number, _, _ in titles] == list(range(1, total + 1))
    assert {int(of) for _, of, _ in titles} == {total}
    lines = commands(output)
    positions = [first_index(lines, pattern) for pattern in INSTALL_ORDER]
    assert positions == sorted(positions), list(zip(INSTALL_ORDER, positions, strict=True))
    for service in SERVICES:
        load = first_index(lines, LOADERS[kind].format(svc=service))
        assert load < positions[1], "images must be in place before anything is installed"
    for other, pattern in LOADERS.items():
        if other != kind:
            assert not any(re.search(pattern.format(svc="verbs"), line) for line in lines)
    overlay = "production" if kind == "remote" else "local"
    assert f"overlay: {overlay}" in output
    assert any(line.endswith(f"/var/deploy/{overlay}") for line in lines)


def test_istio_is_installed_with_its_cni_plugin(sandbox: Path) -> None:
    """Without the CNI plugin every sidecar-injected pod carries istio-init with NET_ADMIN and
    NET_RAW, which Pod Security `restricted` (namespace app) refuses: nothing would start."""
    namespace = yaml.safe_load((ROOT / "deploy/base/namespace.yaml").read_text())
    assert namespace["metadata"]["labels"]["pod-security.kubernetes.io/enforce"] == "restricted"
    lines = commands(plan(sandbox, "kind"))
    install = lines[first_index(lines, r"^istioctl install")]
    profile = yaml.safe_load((ROOT / "security/istio/profile.yaml").read_text())
    in_profile = profile["spec"].get("components", {}).get("cni", {}).get("enabled") is True
    assert in_profile or "--set components.cni.enabled=true" in install


@pytest.mark.parametrize("kind", ("k3d", "k3s", "minikube"))
def test_istio_gets_the_platform_profile_where_cni_paths_differ(kind: str, sandbox: Path) -> None:
    lines = commands(plan(sandbox, kind))
    install = lines[first_index(lines, r"^istioctl install")]
    assert install.endswith(f"--set values.global.platform={kind}")


def test_the_plan_installs_the_pinned_versions(sandbox: Path) -> None:
    pinned = versions()
    output = plan(sandbox, "kind", KUBEARMOR="1")
    lines = commands(output)
    charts = {
        "kyverno": "KYVERNO_CHART_VERSION",
        "falco": "FALCO_CHART_VERSION",
        "prometheus": "PROMETHEUS_CHART_VERSION",
        "kiali-server": "KIALI_CHART_VERSION",
        "kubearmor-operator": "KUBEARMOR_CHART_VERSION",
    }
    helm_installs = [line for line in lines if line.startswith("helm upgrade --install")]
    assert len(helm_installs) == len(charts)
    for chart, variable in charts.items():
        line = lines[first_index(lines, rf"^helm upgrade --install {chart} {chart} ")]
        assert f" --version {pinned[variable]} " in f"{line} ", line
    crds = lines[first_index(lines, "gateway-api/releases/download")]
    assert f"/download/{pinned['GATEWAY_API_VERSION']}/standard-install.yaml" in crds
    assert f"Istio {pinned['ISTIO_VERSION']} " in output


def test_kubearmor_only_when_asked(sandbox: Path) -> None:
    without = commands(plan(sandbox, "kind"))
    assert not [
        line for line in without if re.search(r"kubearmor-operator|/security/kubearmor", line)
    ]
    with_it = commands(plan(sandbox, "kind", KUBEARMOR="1"))
    operator = first_index(with_it, r"^helm upgrade --install kubearmor-operator ")
    policies = first_index(with_it, r"^kubectl apply -k \S+/security/kubearmor$")
    app = first_index(with_it, r"^kubectl apply -k \S+/var/deploy/local$")
    assert operator < policies < app


def test_a_remote_cluster_needs_a_registry(sandbox: Path) -> None:
    result = deploy_sh(sandbox, "deploy", DRY_RUN="1", CLUSTER_KIND="remote")
    assert result.returncode != 0
    assert "set REGISTRY=" in result.stderr


def test_an_unknown_cluster_kind_is_refused(sandbox: Path) -> None:
    result = deploy_sh(sandbox, "deploy", DRY_RUN="1", CLUSTER_KIND="openshift")
    assert result.returncode != 0
    assert "use kind, k3d, minikube, k3s, node or remote" in result.stderr


def test_a_dry_run_without_kubectl_asks_for_the_cluster_kind(sandbox: Path) -> None:
    result = deploy_sh(sandbox, "deploy", DRY_RUN="1")
    assert result.returncode != 0
    assert "set CLUSTER_KIND=" in result.stderr


def test_a_real_run_stops_at_the_first_missing_tool_and_names_it(sandbox: Path) -> None:
    before = listing(sandbox)
    result = deploy_sh(sandbox, "deploy", CLUSTER_KIND="kind")
    assert result.returncode != 0
    assert "kubectl is needed" in result.stderr and "make venv" in result.stderr
    # With kubectl present (but no cluster), the next missing tool is helm, named with a link.
    (sandbox.parent / "bin/kubectl").symlink_to(kubectl())
    result = deploy_sh(sandbox, "deploy", CLUSTER_KIND="kind")
    assert result.returncode != 0
    assert "==> [1/" in result.stdout
    assert "helm is needed" in result.stderr and "https://helm.sh" in result.stderr
    assert "==> [2/" not in result.stdout
    assert listing(sandbox) == before


def test_full_install_runs_the_same_plan(sandbox: Path) -> None:
    direct = deploy_sh(sandbox, "deploy", DRY_RUN="1", CLUSTER_KIND="kind")
    one_line = deploy_sh(sandbox, script="full-install.sh", DRY_RUN="1", CLUSTER_KIND="kind")
    assert one_line.returncode == 0, one_line.stderr
    assert one_line.stdout == direct.stdout


def test_every_secret_the_app_reads_is_created_by_the_deploy(sandbox: Path) -> None:
    created: dict[str, set[str]] = {}
    for line in commands(plan(sandbox, "kind")):
        match = re.search(r"create secret generic (\S+) (.*?)\s+# only if absent", line)
        if match:
            created[match[1]] = {pair.split("=")[0] for pair in match[2].split()}
    read: dict[str, set[str]] = {}
    for overlay in ("local", "production"):
        for doc in of_kind(render(overlay), "Deployment", "StatefulSet", "Job"):
            for container in pod_spec(doc)["containers"]:
                for entry in container.get("env", []):
                    ref = entry.get("valueFrom", {}).get("secretKeyRef")
                    if ref:
                        read.setdefault(ref["name"], set()).add(ref["key"])
    assert read == created


def test_verify_plan_reads_rule_and_policy_names_from_security(sandbox: Path) -> None:
    rules = (sandbox / "security/falco/rules/wordmix_rules.yaml").read_text()
    shell_rule = re.search(r"^- rule: (.*[Ss]hell.*)$", rules, flags=re.MULTILINE)[1]
    etc_rule = re.search(r"^- rule: (.*below etc.*)$", rules, flags=re.MULTILINE)[1]
    result = deploy_sh(sandbox, "verify", DRY_RUN="1", KUBEARMOR="1")
    assert result.returncode == 0, result.stderr
    assert f'"{shell_rule}"' in result.stdout and f'"{etc_rule}"' in result.stdout
    assert "denied by disallow-latest-tag" in result.stdout
    assert "apt-get --version" in result.stdout
    # A renamed rule is what the verify step then looks for.
    (sandbox / "security/falco/rules/wordmix_rules.yaml").write_text(
        rules.replace(etc_rule, "Write below etc in a renamed rule")
    )
    renamed = deploy_sh(sandbox, "verify", DRY_RUN="1")
    assert '"Write below etc in a renamed rule"' in renamed.stdout


def test_undeploy_removes_the_app_and_with_stack_everything(sandbox: Path) -> None:
    app_only = commands(deploy_sh(sandbox, "undeploy", DRY_RUN="1").stdout)
    assert app_only == ["kubectl delete namespace app --ignore-not-found --wait --timeout=300s"]
    everything = commands(deploy_sh(sandbox, "undeploy", DRY_RUN="1", STACK="1").stdout)
    for release in ("kyverno", "falco", "prometheus", "kiali-server", "kubearmor-operator"):
        assert any(line.startswith(f"helm uninstall {release} ") for line in everything)
    assert "istioctl uninstall --purge -y" in everything


def test_the_app_image_tag_is_what_the_deploy_built(sandbox: Path) -> None:
    """The overlay's committed tag is only a default; the deploy pins the images it loaded."""
    output = plan(sandbox, "kind")
    for service in SERVICES:
        assert f"wordmix-{service}:1.2.3-test" in output
    docs = render("local")
    assert find(docs, "Deployment", "verbs")["spec"]["template"]["spec"]["containers"][0][
        "image"
    ].startswith("wordmix-verbs:")
    assert os.access(ROOT / "scripts/deploy.sh", os.X_OK)
    assert os.access(ROOT / "full-install.sh", os.X_OK)


def verify_manifests(root: Path) -> list[dict[str, object]]:
    """The Pods `make verify` applies, as its dry run prints them."""
    result = deploy_sh(root, "verify", DRY_RUN="1")
    assert result.returncode == 0, result.stderr
    documents, current = [], []
    for line in [*result.stdout.splitlines(), ""]:
        if line.startswith("      | "):
            current.append(line[len("      | ") :])
        elif current:
            documents.append(yaml.safe_load("\n".join(current)))
            current = []
    return documents


def test_verify_pods_are_valid_and_only_the_bad_one_breaks_a_policy(
    sandbox: Path, tmp_path: Path
) -> None:
    """The Pod meant to be refused breaks exactly disallow-latest-tag; the plaintext client must
    be admitted, or the mTLS check would prove nothing. Both validate against the schemas."""
    pods = {pod["metadata"]["name"]: pod for pod in verify_manifests(sandbox)}
    assert set(pods) == {"wordmix-verify-latest", "wordmix-verify-plaintext"}
    validation = kubectl_validate(list(pods.values()), tmp_path / "schema")
    assert validation.errors == {}
    (tmp_path / "bad").mkdir()
    failed, output = kyverno_apply(tmp_path / "bad", yaml.safe_dump(pods["wordmix-verify-latest"]))
    assert failed == 1 and "disallow-latest-tag" in output, output
    (tmp_path / "good").mkdir()
    failed, output = kyverno_apply(
        tmp_path / "good", yaml.safe_dump(pods["wordmix-verify-plaintext"])
    )
    assert failed == 0, output


# --- real runs against recording stand-ins for the cluster tools ---------------------------

FAKE_TOOL = r"""#!/bin/bash
# Records its command line; answers the few questions deploy.sh asks; fails on request.
name=$(basename "$0")
line="$name $*"
printf '%s\n' "$line" >>"$FAKE_LOG"
for arg in "$@"; do
  if [[ $arg == --from-env-file=* ]]; then
    { echo "[$line]"; cat "${arg#--from-env-file=}"; } >>"$FAKE_SECRETS"
  fi
done
if [[ -n ${FAKE_FAIL:-} && $line == $FAKE_FAIL ]]; then echo "fake failure: $line" >&2; exit 3; fi
case $line in
  "kubectl config current-context") echo kind-wordmix ;;
  "docker --version") echo "Docker version 27.0.0" ;;
  "kubectl -n app get secret postgres-secrets -o jsonpath={.data."*)
    printf 'c2VjcmV0LWRiLXBhc3N3b3Jk' ;;  # base64 of secret-db-password
  "kubectl -n app get secret "*) [[ -f $FAKE_STATE/$5 ]] || exit 1 ;;
  "kubectl -n app create secret generic "*) touch "$FAKE_STATE/$6" ;;
  "kubectl -n app get job "*) echo "${FAKE_JOB_STATE:-Complete}" ;;
esac
exit 0
"""
CLUSTER_TOOLS = ("kubectl", "helm", "istioctl", "kind", "docker")
MORE_COREUTILS = ("basename", "env", "mkdir", "rm", "od", "tr", "base64", "touch", "sleep")


@pytest.fixture
def fake_cluster(sandbox: Path) -> Path:
    bin_dir = sandbox.parent / "bin"
    for name in MORE_COREUTILS:
        (bin_dir / name).symlink_to(shutil.which(name))
    for name in CLUSTER_TOOLS:
        (bin_dir / name).write_text(FAKE_TOOL)
        (bin_dir / name).chmod(0o755)
    (sandbox.parent / "state").mkdir()
    return sandbox


def real_run(root: Path, **env: str) -> tuple[subprocess.CompletedProcess[str], list[str]]:
    log = root.parent / "calls.log"
    log.unlink(missing_ok=True)
    result = deploy_sh(
        root,
        "deploy",
        CLUSTER_KIND="kind",
        SKIP_BUILD="1",
        ISTIOCTL_BIN=str(root.parent / "bin/istioctl"),
        FAKE_LOG=str(log),
        FAKE_SECRETS=str(root.parent / "secrets.log"),
        FAKE_STATE=str(root.parent / "state"),
        **env,
    )
    return result, log.read_text().splitlines() if log.exists() else []


def test_a_real_run_stops_at_the_first_failing_command(fake_cluster: Path) -> None:
    result, calls = real_run(fake_cluster, FAKE_FAIL="helm upgrade --install falco *")
    assert result.returncode != 0
    assert (
        "Falco and falcosidekick" in result.stderr and "nothing after it was run" in result.stderr
    )
    assert calls[-1].startswith("helm upgrade --install falco falco ")
    assert any(call.startswith("helm upgrade --install kyverno ") for call in calls)
    assert not any("prometheus" in call or " apply -k " in call for call in calls)


def test_a_real_run_creates_the_secrets_once_and_never_on_a_command_line(
    fake_cluster: Path,
) -> None:
    first, calls = real_run(fake_cluster)
    assert first.returncode == 0, first.stdout + first.stderr
    created = [call.split()[6] for call in calls if " create secret generic " in call]
    assert sorted(created) == [
        "aggregator-secrets",
        "nouns-secrets",
        "postgres-secrets",
        "verbs-secrets",
    ]
    secrets = (fake_cluster.parent / "secrets.log").read_text()
    # The word services' DATABASE_URL carries the password postgres-secrets holds.
    assert (
        "DATABASE_URL=postgres://verbs:secret-db-password@postgres.app.svc.cluster.local:5432/verbs"
        in secrets
    )
    values = re.findall(r"^[A-Z_]+=(.+)$", secrets, flags=re.MULTILINE)
    assert len(values) == 8
    assert not [value for value in values if value in "\n".join(calls)]
    random = [v for v in values if not v.startswith("postgres://")]
    assert len(set(random)) == len(random) and all(re.fullmatch(r"[0-9a-f]{64}", v) for v in random)
    # The app is applied through a kustomization pinning the images to this VERSION.
    kustomization = yaml.safe_load(
        (fake_cluster / "var/deploy/local/kustomization.yaml").read_text()
    )
    assert kustomization["resources"] == ["../../../deploy/overlays/local"]
    assert {i["newTag"] for i in kustomization["images"]} == {"1.2.3-test"}
    # A second run keeps every Secret.
    second, calls = real_run(fake_cluster)
    assert second.returncode == 0, second.stdout + second.stderr
    assert not [call for call in calls if " create secret " in call]
    assert second.stdout.count("exists: kept") == 4


def test_a_failed_migration_stops_the_deploy_with_its_logs(fake_cluster: Path) -> None:
    result, calls = real_run(fake_cluster, FAKE_JOB_STATE="Failed")
    assert result.returncode != 0
    assert "Job migrate-verbs failed" in result.stderr
    assert "kubectl -n app logs job/migrate-verbs -c migrate --tail=50" in calls
    assert not [call for call in calls if "-n app rollout status deployment/" in call]


def test_admin_forwards_the_two_admins_to_the_documented_ports(sandbox: Path) -> None:
    result = deploy_sh(sandbox, "admin", DRY_RUN="1")
    assert result.returncode == 0, result.stderr
    assert commands(result.stdout) == [
        "kubectl -n app port-forward deployment/verbs 8001:8000 & "
        "kubectl -n app port-forward deployment/nouns 8002:8000"
    ]
    assert "http://localhost:8001/admin/" in result.stdout
    assert "http://localhost:8002/admin/" in result.stdout


def test_an_unknown_subcommand_prints_the_usage(sandbox: Path) -> None:
    result = deploy_sh(sandbox, "deplyo")
    assert result.returncode == 2
    for subcommand in ("deploy", "verify", "undeploy", "admin"):
        assert f"scripts/deploy.sh {subcommand}" in result.stderr


def test_the_node_plan_loads_into_its_containerd_and_names_what_it_leaves_out(
    sandbox: Path,
) -> None:
    """CLUSTER_KIND=node (make cluster-up): images imported by node.sh, the database image too,
    charts and Gateway API CRDs from the local cache, and every layer this machine cannot run
    printed as NOT RUN here - never installed, never silently skipped."""
    output = plan(sandbox, "node")
    lines = commands(output)
    for svc in ("verbs", "nouns", "aggregator"):
        first_index(lines, rf"scripts/cluster/node\.sh import \S+/wordmix-{svc}-1\.2\.3-test\.tar$")
    first_index(lines, r"scripts/cluster/node\.sh import \S+/postgres\.tar$")
    first_index(
        lines, r"^kubectl apply --server-side .*/charts/gateway-api-v[\d.]+/standard-install\.yaml"
    )
    first_index(
        lines,
        r"^helm upgrade --install kyverno \S+/charts/kyverno-[\d.]+/kyverno --namespace kyverno",
    )
    for absent in (
        r"istioctl",
        r"helm upgrade --install (falco|prometheus|kiali)",
        r"security/istio$",
        r"condition=Programmed gateway",
        r"--repo ",
    ):
        assert not [line for line in lines if re.search(absent, line)], absent
    left_out = [line for line in output.splitlines() if line.startswith("NOT RUN here: ")]
    for layer in ("Istio", "Falco", "KubeArmor", "Prometheus and Kiali", "security/istio"):
        assert any(line.startswith(f"NOT RUN here: {layer}") for line in left_out), (
            layer,
            left_out,
        )
    assert all(" — " in line and line.split(" — ", 1)[1].strip() for line in left_out), left_out


def test_a_layer_left_out_by_choice_says_so(sandbox: Path) -> None:
    output = plan(sandbox, "kind", ISTIO="0", FALCO="0")
    istio = "Istio (mesh, mTLS, AuthorizationPolicies, the gateway), Prometheus and Kiali"
    assert f"NOT RUN here: {istio} — left out by ISTIO=0" in output
    assert "NOT RUN here: Falco — left out by FALCO=0" in output
    assert not [line for line in commands(output) if "istioctl" in line or "falco" in line]
