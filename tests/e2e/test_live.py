"""The cluster layer, live: a real one-node Kubernetes (scripts/cluster/node.sh), `make deploy`
and `make verify` on it, then each check against the real API server, kubelet, Kyverno's
webhooks and the NetworkPolicy enforcer. The tests run in this file's order: deploy, verify,
deploy again, the checks, the faults, undeploy, and the node taken down."""

from __future__ import annotations

import contextlib
import json
import os
import re
import signal
import subprocess
import threading
import time
from pathlib import Path
from typing import Any

import pytest
import requests
import yaml

from tests.deploy import _deploy
from tests.e2e.conftest import run_logged
from tests.e2e.kube import (
    NAMESPACE,
    NODE,
    ROOT,
    apply,
    exec_in,
    get_json,
    kubectl,
    pod_of,
    port_forward,
    wait_until,
)

# A cold first run builds the whole cluster from the Go module proxy inside the first test's
# fixture: far past the suite's one-hour default.
pytestmark = [pytest.mark.e2e, pytest.mark.timeout(4 * 3600)]

SERVICES = ("verbs", "nouns", "aggregator")
PYTHON = "/opt/venv/bin/python"
BAD_RESOURCES = ROOT / "security/kyverno/bad-resources"
UID = 10001


def make(target: str, env: dict[str, str], name: str | None = None) -> str:
    return run_logged(name or target, ["make", "--no-print-directory", target], env, timeout=3600)


def not_run_lines(output: str) -> list[str]:
    return [line for line in output.splitlines() if line.startswith("NOT RUN here: ")]


# --- the node ---------------------------------------------------------------------------------


def test_the_node_is_up_with_dns_netpol_and_storage(node: dict[str, str]) -> None:
    nodes = get_json("nodes")["items"]
    assert [n["metadata"]["name"] for n in nodes] == ["wordmix-node"]
    info = nodes[0]["status"]["nodeInfo"]
    pinned = _deploy.versions()
    assert info["kubeletVersion"] == pinned["KUBERNETES_VERSION"]
    assert info["containerRuntimeVersion"] == f"containerd://{pinned['CONTAINERD_VERSION'][1:]}"
    addresses = {a["type"]: a["address"] for a in nodes[0]["status"]["addresses"]}
    assert addresses["InternalIP"] == "10.250.0.1"
    for namespace, kind, name in (
        ("kube-system", "deployment", "coredns"),
        ("kube-system", "daemonset", "kube-network-policies"),
        ("local-path-storage", "deployment", "local-path-provisioner"),
    ):
        kubectl("-n", namespace, "rollout", "status", f"{kind}/{name}", "--timeout=120s")
    classes = get_json("storageclass")["items"]
    defaults = [
        c["metadata"]["name"]
        for c in classes
        if c["metadata"].get("annotations", {}).get("storageclass.kubernetes.io/is-default-class")
        == "true"
    ]
    assert defaults == ["local-path"]


def test_cluster_up_again_changes_nothing(node: dict[str, str]) -> None:
    def state() -> tuple[str, str]:
        status = subprocess.run([str(NODE), "status"], capture_output=True, text=True, check=True)
        dns = get_json("pods", "-n", "kube-system", "-l", "k8s-app=kube-dns")["items"]
        return status.stdout, ",".join(sorted(p["metadata"]["uid"] for p in dns))

    configs = sorted(Path("/var/lib/wordmix-node/etc").iterdir())
    written = {path: path.stat().st_mtime_ns for path in configs}
    before = state()
    run_logged("cluster-up-again", [str(NODE), "up"], node, timeout=600)
    assert state() == before, "a second cluster-up restarted something"
    # The daemons watch their files (kube-proxy exits when its file changes): none rewritten.
    assert {path: path.stat().st_mtime_ns for path in configs} == written


# --- deploy, verify, deploy again ------------------------------------------------------------

DEPLOYED: dict[str, str] = {}


def test_make_deploy_installs_the_app_and_says_what_it_leaves_out(node: dict[str, str]) -> None:
    output = make("deploy", node)
    DEPLOYED["first"] = output
    left_out = "\n".join(not_run_lines(output))
    for layer in ("Istio", "Falco", "KubeArmor"):
        assert f"NOT RUN here: {layer}" in left_out, f"deploy did not say it left out {layer}"
    assert "cluster: node (context wordmix-node" in output
    for svc in SERVICES:
        deployment = get_json("deployment", svc, "-n", NAMESPACE)
        assert deployment["status"].get("readyReplicas") == 1, svc


def test_make_verify_passes_and_names_what_it_cannot_prove_here(node: dict[str, str]) -> None:
    output = make("verify", node)
    assert "mix through the aggregator's Service" in output
    assert "Kyverno refused the Pod" in output
    left_out = "\n".join(not_run_lines(output))
    assert "NOT RUN here: STRICT mTLS" in left_out
    assert "NOT RUN here: Falco" in left_out
    assert "every layer answered as expected" in output


def snapshot() -> dict[str, str]:
    """Every object of the app by kind/name, with its uid; pods by name."""
    kinds = (
        "deployment,statefulset,service,secret,configmap,pvc,networkpolicy,serviceaccount,job,pod"
    )
    items = get_json(kinds, "-n", NAMESPACE)["items"]
    objects = {f"{i['kind']}/{i['metadata']['name']}": i["metadata"]["uid"] for i in items}
    for policy in get_json("clusterpolicy")["items"]:
        objects[f"ClusterPolicy/{policy['metadata']['name']}"] = policy["metadata"]["uid"]
    return objects


def is_migration(key: str) -> bool:
    kind, name = key.split("/", 1)
    return (kind == "Job" and name.startswith("migrate-")) or (
        kind == "Pod" and name.startswith("migrate-")
    )


def test_a_second_deploy_recreates_only_the_migration_jobs(node: dict[str, str]) -> None:
    before = snapshot()
    make("deploy", node, name="deploy-again")
    after = snapshot()
    kept = {k: v for k, v in before.items() if not is_migration(k)}
    assert {k: after.get(k) for k in kept} == kept, "the second deploy recreated objects"
    assert not {k for k in after if k not in before and not is_migration(k)}, "new objects appeared"
    jobs_before = {k: v for k, v in before.items() if k.startswith("Job/")}
    jobs_after = {k: v for k, v in after.items() if k.startswith("Job/")}
    assert set(jobs_before) == set(jobs_after) == {"Job/migrate-verbs", "Job/migrate-nouns"}
    assert all(jobs_before[k] != jobs_after[k] for k in jobs_before), (
        "the migrations did not run again"
    )


# --- the app on the cluster ------------------------------------------------------------------


def test_a_mix_and_the_page_through_service_dns_and_the_pod_network(node: dict[str, str]) -> None:
    with port_forward("service/verbs", 8000) as verbs, port_forward("service/nouns", 8000) as nouns:
        all_verbs = set(requests.get(f"{verbs}/all", timeout=10).json()["verbs"])
        all_nouns = set(requests.get(f"{nouns}/all", timeout=10).json()["nouns"])
    assert {"run", "laugh"} <= all_verbs and {"dog", "table"} <= all_nouns
    # The aggregator reaches the word services by their Service names over the pod network.
    environment = get_json("deployment", "aggregator", "-n", NAMESPACE)["spec"]["template"]["spec"]
    urls = {e["name"]: e.get("value") for e in environment["containers"][0].get("env", [])}
    assert urls["VERBS_URL"].startswith("http://verbs.app.svc.cluster.local")
    with port_forward("service/aggregator", 8000) as aggregator:
        for _ in range(10):
            mix = requests.get(f"{aggregator}/api/v1/mix/", timeout=10)
            assert mix.status_code == 200, mix.text
            assert mix.json()["verb"] in all_verbs and mix.json()["noun"] in all_nouns
        page = requests.get(f"{aggregator}/", timeout=10)
        assert page.status_code == 200 and "<html" in page.text.lower()
        assert requests.get(f"{aggregator}/readyz", timeout=10).status_code == 200


def test_the_word_services_run_on_postgresql_with_its_volume(node: dict[str, str]) -> None:
    claim = get_json("pvc", "-n", NAMESPACE, "-l", "app=postgres")["items"]
    assert len(claim) == 1 and claim[0]["status"]["phase"] == "Bound"
    assert claim[0]["spec"]["storageClassName"] == "local-path"
    volume = get_json("pv", claim[0]["spec"]["volumeName"])
    path = Path((volume["spec"].get("hostPath") or volume["spec"]["local"])["path"])
    assert list(path.rglob("PG_VERSION")), f"no PostgreSQL data in the volume at {path}"
    # Each word service's tables and seed words are in its own database on that server (psql
    # in the database's pod: a Python beside a word service's server would crowd its 128 MiB).
    postgres = pod_of("postgres")["metadata"]["name"]
    for svc, query in (
        ("verbs", "select count(*) from verbs_verb"),
        ("nouns", "select count(*) from nouns_noun"),
    ):
        count = exec_in(
            postgres,
            "psql",
            "-U",
            "postgres",
            "-d",
            svc,
            "-tAc",
            query,
            container="postgres",
            check=True,
        )
        assert int(count.stdout.strip()) >= 15, count.stdout
    with port_forward("service/verbs", 8000) as verbs:
        assert requests.get(f"{verbs}/readyz", timeout=10).status_code == 200


# --- admission: Kyverno's webhooks and Pod Security ------------------------------------------


def rejected_by(path: Path) -> list[tuple[str, str]]:
    return [
        tuple(line.split(":", 1)[1].strip().split("/", 1))  # type: ignore[misc]
        for line in path.read_text().splitlines()
        if line.startswith("# rejected-by:")
    ]


def as_deployment(pod: dict[str, Any]) -> dict[str, Any]:
    """The same pod as the template of a Deployment, which Pod Security only warns about."""
    labels = pod["metadata"]["labels"]
    return {
        "apiVersion": "apps/v1",
        "kind": "Deployment",
        "metadata": {**pod["metadata"], "name": f"{pod['metadata']['name']}-deployment"},
        "spec": {
            "replicas": 1,
            "selector": {"matchLabels": {"app": labels["app"]}},
            "template": {"metadata": {"labels": labels}, "spec": pod["spec"]},
        },
    }


def refusal(manifest: dict[str, Any]) -> str:
    result = kubectl(
        "apply", "--dry-run=server", "-f", "-", input=json.dumps(manifest), check=False
    )
    assert result.returncode != 0, f"{manifest['kind']} {manifest['metadata']['name']} admitted"
    return result.stderr


def assert_kyverno_names(message: str, expected: list[tuple[str, str]], what: str) -> None:
    assert "kyverno" in message, f"{what} was refused, but not by Kyverno: {message}"
    for policy, rule in expected:
        assert policy in message and rule in message, f"{what}: {policy}/{rule} not in {message}"


@pytest.mark.parametrize("path", sorted(BAD_RESOURCES.glob("*.yaml")), ids=lambda p: p.stem)
def test_kyverno_refuses_each_bad_resource_naming_its_rule(
    node: dict[str, str], path: Path
) -> None:
    """Each file is refused. A Pod that also breaks Pod Security `restricted` is refused by it
    first - the API server runs its PodSecurity admission before the validating webhooks, so
    Kyverno never sees that Pod - and the same pod as a Deployment's template, which Pod
    Security only warns about, shows Kyverno's own refusal naming the rule."""
    expected = rejected_by(path)
    assert expected, f"{path.name} has no '# rejected-by:' line"
    manifest = yaml.safe_load(path.read_text())
    message = refusal(manifest)
    if manifest["kind"] != "Pod":
        assert_kyverno_names(message, expected, path.name)
        return
    if 'violates PodSecurity "restricted:latest"' not in message:
        assert_kyverno_names(message, expected, path.name)
    assert_kyverno_names(refusal(as_deployment(manifest)), expected, f"{path.name} as a Deployment")


def probe_pod(name: str, labels: dict[str, str], *, namespace: str = NAMESPACE) -> dict[str, Any]:
    """A pod that passes Pod Security `restricted` and every Kyverno policy, running the
    aggregator's image (it has Python) and doing nothing; the checks exec into it."""
    image = get_json("deployment", "aggregator", "-n", NAMESPACE)["spec"]["template"]["spec"][
        "containers"
    ][0]["image"]
    return {
        "apiVersion": "v1",
        "kind": "Pod",
        "metadata": {
            "name": name,
            "namespace": namespace,
            # A wordmix label outside app would be refused (restrict-wordmix-namespace).
            "labels": {**labels, "app.kubernetes.io/part-of": "wordmix"}
            if namespace == NAMESPACE
            else labels,
        },
        "spec": {
            "automountServiceAccountToken": False,
            "restartPolicy": "Never",
            "securityContext": {
                "runAsNonRoot": True,
                "runAsUser": UID,
                "runAsGroup": UID,
                "seccompProfile": {"type": "RuntimeDefault"},
            },
            "containers": [
                {
                    "name": "probe",
                    "image": image,
                    "imagePullPolicy": "Never",
                    "command": [PYTHON, "-c", "import time; time.sleep(3600)"],
                    "securityContext": {
                        "allowPrivilegeEscalation": False,
                        "readOnlyRootFilesystem": True,
                        "runAsNonRoot": True,
                        "capabilities": {"drop": ["ALL"]},
                    },
                    "resources": {
                        "requests": {"cpu": "10m", "memory": "32Mi"},
                        "limits": {"cpu": "100m", "memory": "64Mi"},
                    },
                    "livenessProbe": {"exec": {"command": [PYTHON, "-c", "pass"]}},
                    "readinessProbe": {"exec": {"command": ["/bin/false"]}},
                }
            ],
        },
    }


def dry_run_create(manifest: dict[str, Any]) -> subprocess.CompletedProcess[str]:
    return kubectl(
        "create",
        "--dry-run=server",
        "-o",
        "json",
        "-f",
        "-",
        input=json.dumps(manifest),
        check=False,
    )


def test_kyverno_fills_in_limits_and_readonly_root_keeping_set_values(node: dict[str, str]) -> None:
    pod = probe_pod("mutate-me", {"app": "mutate-me"})
    bare, kept = pod["spec"]["containers"][0], json.loads(json.dumps(pod["spec"]["containers"][0]))
    bare["name"] = "bare"
    del bare["resources"]
    del bare["securityContext"]["readOnlyRootFilesystem"]
    kept["name"] = "kept"
    kept["resources"] = {"limits": {"memory": "96Mi"}}
    pod["spec"]["containers"] = [bare, kept]
    pod["spec"]["initContainers"] = [{**json.loads(json.dumps(bare)), "name": "init"}]
    for container in pod["spec"]["initContainers"]:
        container.pop("livenessProbe")
        container.pop("readinessProbe")
    result = dry_run_create(pod)
    assert result.returncode == 0, result.stderr
    admitted = json.loads(result.stdout)["spec"]
    by_name = {c["name"]: c for c in admitted["containers"] + admitted["initContainers"]}
    for name in ("bare", "init"):
        resources = by_name[name]["resources"]
        assert resources["limits"] == {"cpu": "500m", "memory": "128Mi"}, (name, resources)
        assert resources["requests"] == {"cpu": "250m", "memory": "64Mi"}, (name, resources)
        assert by_name[name]["securityContext"]["readOnlyRootFilesystem"] is True, name
    kept_resources = by_name["kept"]["resources"]
    assert kept_resources["limits"]["memory"] == "96Mi", kept_resources
    assert kept_resources["limits"]["cpu"] == "500m", kept_resources
    # Kubernetes itself requests a limit that has no request; no default may override that.
    assert kept_resources.get("requests", {}).get("memory", "96Mi") == "96Mi", kept_resources


@pytest.mark.parametrize("namespace", ["kube-system", "kyverno", "local-path-storage"])
def test_the_stacks_own_namespaces_are_not_blocked(node: dict[str, str], namespace: str) -> None:
    # Everything app's policies forbid at once: root, no limits, a writable root, a latest tag.
    pod = {
        "apiVersion": "v1",
        "kind": "Pod",
        "metadata": {"name": "stack-pod", "namespace": namespace},
        "spec": {"containers": [{"name": "c", "image": "registry.k8s.io/pause:latest"}]},
    }
    result = dry_run_create(pod)
    assert result.returncode == 0, f"a pod in {namespace} was refused: {result.stderr}"
    for policy in ("require-resource-limits", "disallow-latest-tag"):
        assert policy not in result.stderr


def test_pod_security_restricted_refuses_a_privileged_pod(node: dict[str, str]) -> None:
    pod = probe_pod("privileged", {"app": "privileged"})
    pod["spec"]["containers"][0]["securityContext"] = {"privileged": True}
    result = dry_run_create(pod)
    assert result.returncode != 0, "a privileged pod was admitted in namespace app"
    assert 'violates PodSecurity "restricted:latest"' in result.stderr, result.stderr
    assert "privileged" in result.stderr


# --- NetworkPolicy, enforced -----------------------------------------------------------------

TARGETS = {
    "verbs": ("verbs.app.svc.cluster.local", 8000),
    "nouns": ("nouns.app.svc.cluster.local", 8000),
    "aggregator": ("aggregator.app.svc.cluster.local", 8000),
    "postgres": ("postgres.app.svc.cluster.local", 5432),
}
CONNECT = (
    "import socket, sys\n"
    "host, port = sys.argv[1], int(sys.argv[2])\n"
    "try:\n"
    "    socket.getaddrinfo(host, port)\n"
    "except OSError as error:\n"
    "    print('NODNS', error); sys.exit(0)\n"
    "try:\n"
    "    socket.create_connection((host, port), timeout=4).close(); print('OPEN')\n"
    "except OSError as error:\n"
    "    print('CLOSED', type(error).__name__)\n"
)
BASH_CONNECT = 'timeout 5 bash -c \'exec 3<>/dev/tcp/$0/$1\' "$0" "$1" && echo OPEN || echo CLOSED'


def connect(source: dict[str, Any], target: str) -> str:
    host, port = TARGETS[target]
    name, namespace = source["metadata"]["name"], source["metadata"]["namespace"]
    container = source["spec"]["containers"][0]["name"]
    if source["metadata"]["labels"].get("app") == "postgres":
        command = ["bash", "-c", BASH_CONNECT, host, str(port)]
    else:
        command = [PYTHON, "-c", CONNECT, host, str(port)]
    result = exec_in(name, *command, container=container, namespace=namespace)
    return (
        (result.stdout.strip() or result.stderr.strip()).split()[0]
        if result.stdout or result.stderr
        else "?"
    )


def test_network_policies_are_enforced_as_the_evaluator_says(node: dict[str, str]) -> None:
    stray = probe_pod("netpol-stray", {"app": "netpol-stray"})
    outsider = probe_pod("netpol-outsider", {"app": "somebody"}, namespace="default")
    try:
        for pod in (stray, outsider):
            apply(pod)
            kubectl(
                "-n",
                pod["metadata"]["namespace"],
                "wait",
                "--for=jsonpath={.status.phase}=Running",
                f"pod/{pod['metadata']['name']}",
                "--timeout=120s",
            )
        sources = {svc: pod_of(svc) for svc in ("aggregator", "verbs", "nouns", "postgres")}
        sources["stray"] = get_json("pod", "netpol-stray", "-n", NAMESPACE)
        sources["outside"] = get_json("pod", "netpol-outsider", "-n", "default")
        policies = get_json("networkpolicy", "-n", NAMESPACE)["items"]
        targets = {name: pod_of(name) for name in TARGETS}

        def endpoint(pod: dict[str, Any]) -> _deploy.Endpoint:
            return _deploy.endpoint(pod["metadata"]["namespace"], pod["metadata"]["labels"])

        table: dict[tuple[str, str], tuple[bool, str]] = {}

        def probe(source: str, target: str) -> None:
            expected = _deploy.allowed(
                policies, endpoint(sources[source]), endpoint(targets[target]), TARGETS[target][1]
            )
            table[(source, target)] = (expected, connect(sources[source], target))

        threads = [
            threading.Thread(target=probe, args=(source, target))
            for source in sources
            for target in TARGETS
            if source != target
        ]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join()
        report = "\n".join(
            f"{s:>10} -> {t:<10} evaluator: {'allow' if e else 'deny':<5} live: {live}"
            for (s, t), (e, live) in sorted(table.items())
        )
        print(report)
        assert all(live in ("OPEN", "CLOSED") for _, live in table.values()), report
        disagreements = [(s, t) for (s, t), (e, live) in table.items() if (live == "OPEN") != e]
        assert not disagreements, f"live and evaluator disagree on {disagreements}:\n{report}"
        # What the design needs, live: the aggregator reaches both word services, they reach
        # PostgreSQL, and a pod no policy allows reaches none of them.
        for path in (
            ("aggregator", "verbs"),
            ("aggregator", "nouns"),
            ("verbs", "postgres"),
            ("nouns", "postgres"),
        ):
            assert table[path][1] == "OPEN", report
        for target in ("verbs", "nouns", "postgres", "aggregator"):
            assert table[("stray", target)][1] == "CLOSED", report
            assert table[("outside", target)][1] == "CLOSED", report
    finally:
        kubectl(
            "delete",
            "pod",
            "netpol-stray",
            "-n",
            NAMESPACE,
            "--ignore-not-found",
            "--wait=false",
            check=False,
        )
        kubectl(
            "delete",
            "pod",
            "netpol-outsider",
            "-n",
            "default",
            "--ignore-not-found",
            "--wait=false",
            check=False,
        )


# --- hardening, as the kubelet ran it ---------------------------------------------------------


@pytest.mark.parametrize("svc", SERVICES)
def test_each_app_container_runs_hardened(node: dict[str, str], svc: str) -> None:
    pod = pod_of(svc)["metadata"]["name"]
    status = exec_in(pod, "cat", "/proc/1/status", container=svc, check=True).stdout
    fields = dict(line.split(":", 1) for line in status.splitlines() if ":" in line)
    assert fields["Uid"].split() == [str(UID)] * 4, fields["Uid"]
    assert int(fields["CapEff"].strip(), 16) == 0, fields["CapEff"]
    assert fields["NoNewPrivs"].strip() == "1"
    assert fields["Seccomp"].strip() == "2"
    write = exec_in(pod, PYTHON, "-c", "open('/wordmix-probe', 'w')", container=svc)
    assert write.returncode != 0 and "Read-only file system" in write.stderr, write.stderr
    limit = exec_in(
        pod,
        "cat",
        "/sys/fs/cgroup/memory/memory.limit_in_bytes",
        container=svc,
    )
    if limit.returncode != 0:  # a cgroup v2 node
        limit = exec_in(pod, "cat", "/sys/fs/cgroup/memory.max", container=svc, check=True)
    assert int(limit.stdout.strip()) == 128 * 1024 * 1024


# --- faults: nothing lost ---------------------------------------------------------------------


class Load:
    """Mixes asked for continuously through a port-forward, every answer recorded."""

    def __init__(self, url: str) -> None:
        self.url = url
        self.answers: list[tuple[float, int, str, str]] = []
        self.errors: list[tuple[float, str]] = []
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run)

    def _run(self) -> None:
        with requests.Session() as session:
            while not self._stop.is_set():
                started = time.monotonic()
                try:
                    response = session.get(f"{self.url}/api/v1/mix/", timeout=10)
                    self.answers.append(
                        (
                            started,
                            response.status_code,
                            response.headers.get("Content-Type", ""),
                            response.text,
                        )
                    )
                except requests.RequestException as error:
                    self.errors.append((started, repr(error)))
                time.sleep(0.02)

    def __enter__(self) -> Load:
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._stop.set()
        self._thread.join(timeout=30)


def ready_since(app: str, old_uid: str) -> float:
    """Waits for a new pod of APP (not OLD_UID) to be Ready; returns when it was seen so."""

    def new_ready() -> bool:
        pod = pod_of(app)
        conditions = {c["type"]: c["status"] for c in pod["status"].get("conditions", [])}
        return pod["metadata"]["uid"] != old_uid and conditions.get("Ready") == "True"

    wait_until(f"a new {app} pod to be Ready", new_ready, timeout=300)
    return time.monotonic()


def test_deleting_the_nouns_pod_under_load_gives_only_problems_and_recovers(
    node: dict[str, str],
) -> None:
    old = pod_of("nouns")["metadata"]
    with port_forward("service/aggregator", 8000) as aggregator, Load(aggregator) as load:
        wait_until("some mixes", lambda: len(load.answers) > 20, timeout=60)
        kubectl("delete", "pod", old["name"], "-n", NAMESPACE, "--wait=false")
        ready_at = ready_since("nouns", old["uid"])
        # Until 5 s after the new pod is Ready plus a few seconds of answers past that.
        wait_until(
            "answers past the recovery window",
            lambda: sum(1 for a in load.answers if a[0] > ready_at + 5) > 20,
            timeout=120,
        )
    assert not load.errors, f"the aggregator did not answer: {load.errors[:3]}"
    bad = [a for a in load.answers if a[1] not in (200, 503, 504)]
    assert not bad, f"answers other than 200/503/504: {bad[:3]}"
    # How many failed depends on timing: kube-proxy keeps sending to the terminating pod
    # while no other is ready, so there may be none at all. Each one that did is a problem.
    problems = [a for a in load.answers if a[1] != 200]
    for _, status, content_type, body in problems:
        assert content_type.startswith("application/problem+json"), (status, content_type, body)
        assert json.loads(body)["upstream"] == "nouns", body
    late = [a for a in load.answers if a[0] > ready_at + 5]
    assert all(a[1] == 200 for a in late), (
        f"still failing 5 s after the new pod was Ready: {late[:3]}"
    )


STAFF = "e2e-editor"


def staff_token(svc: str) -> str:
    """A staff user and its API token, made by a one-off Job cloned from the service's
    migration Job (same image, identity, database role and NetworkPolicy path): a
    `manage.py` beside the running server in its 128 MiB container could push it over."""
    job = get_json("job", f"migrate-{svc}", "-n", NAMESPACE)
    template = job["spec"]["template"]
    template["metadata"] = {
        "labels": template["metadata"]["labels"],
        "annotations": template["metadata"].get("annotations", {}),
    }
    for key in (
        "controller-uid",
        "batch.kubernetes.io/controller-uid",
        "job-name",
        "batch.kubernetes.io/job-name",
    ):
        template["metadata"]["labels"].pop(key, None)
    container = template["spec"]["containers"][0]
    password = f"e2e-{time.time_ns()}-a-long-passphrase"
    container["env"] = [
        *container["env"],
        {"name": "WORDMIX_ADMIN_USER", "value": STAFF},
        {"name": "WORDMIX_ADMIN_PASSWORD", "value": password},
    ]
    container["command"] = [
        PYTHON,
        "-c",
        "import django; django.setup(); from django.core.management import call_command; "
        f"call_command('ensure_admin'); call_command('drf_create_token', '{STAFF}')",
    ]
    name = f"staff-token-{svc}-{time.time_ns() % 100000}"
    apply(
        {
            "apiVersion": "batch/v1",
            "kind": "Job",
            "metadata": {"name": name, "namespace": NAMESPACE, "labels": job["metadata"]["labels"]},
            "spec": {"backoffLimit": 2, "template": template},
        }
    )
    try:
        kubectl(
            "wait", "-n", NAMESPACE, "--for=condition=Complete", f"job/{name}", "--timeout=300s"
        )
        out = kubectl("logs", "-n", NAMESPACE, f"job/{name}", "-c", container["name"]).stdout
    finally:
        kubectl("delete", "job", name, "-n", NAMESPACE, "--wait=false", check=False)
    token = re.search(r"\b([0-9a-f]{40})\b", out)
    assert token, out
    return token.group(1)


class MakeAdmin:
    """`make admin` in the background: its port-forwards on 8001 (verbs) and 8002 (nouns)."""

    def __init__(self, env: dict[str, str]) -> None:
        self.env = env

    def __enter__(self) -> MakeAdmin:
        log = ROOT / "var/e2e/make-admin.log"
        with log.open("a") as out:
            self.process = subprocess.Popen(
                ["make", "--no-print-directory", "admin"],
                cwd=ROOT,
                env=self.env,
                stdout=out,
                stderr=subprocess.STDOUT,
                start_new_session=True,
            )
        for port in (8001, 8002):
            wait_until(
                f"make admin's port {port}",
                lambda port=port: requests.get(f"http://127.0.0.1:{port}/healthz", timeout=3).ok,
                timeout=60,
            )
        return self

    def __exit__(self, *exc: object) -> None:
        with contextlib.suppress(ProcessLookupError):
            os.killpg(self.process.pid, signal.SIGTERM)
        try:
            self.process.wait(timeout=15)
        except subprocess.TimeoutExpired:
            os.killpg(self.process.pid, signal.SIGKILL)
            self.process.wait(timeout=10)


def restarts(app: str) -> int:
    return sum(c["restartCount"] for c in pod_of(app)["status"]["containerStatuses"])


def test_make_admin_answers_and_an_added_word_shows_in_mixes_within_2_s(
    node: dict[str, str],
) -> None:
    token = staff_token("nouns")
    with MakeAdmin(node), port_forward("service/aggregator", 8000) as aggregator:
        for port in (8001, 8002):
            login = requests.get(f"http://127.0.0.1:{port}/admin/login/", timeout=10)
            assert login.status_code == 200 and "csrfmiddlewaretoken" in login.text
        added = requests.post(
            "http://127.0.0.1:8002/api/v1/nouns/",
            json={"text": "zeppelin"},
            headers={"Authorization": f"Token {token}"},
            timeout=10,
        )
        assert added.status_code == 201, added.text
        # As the app's own freshness test: four clients ask for 2 s; 1 noun in 16 per mix.
        deadline = time.monotonic() + 2.0
        seen = threading.Event()

        def poll() -> None:
            with requests.Session() as session:
                while time.monotonic() < deadline and not seen.is_set():
                    if (
                        session.get(f"{aggregator}/api/v1/mix/", timeout=5).json()["noun"]
                        == "zeppelin"
                    ):
                        seen.set()

        pollers = [threading.Thread(target=poll) for _ in range(4)]
        for poller in pollers:
            poller.start()
        for poller in pollers:
            poller.join()
        assert seen.is_set(), "a noun added through make admin did not show in mixes within 2 s"


def test_words_added_survive_a_postgresql_restart_and_the_services_recover(
    node: dict[str, str],
) -> None:
    tokens = {svc: staff_token(svc) for svc in ("verbs", "nouns")}
    words = {"verbs": ["amble", "bustle"], "nouns": ["anchor", "buoy"]}
    before = {svc: restarts(svc) for svc in ("verbs", "nouns")}
    with MakeAdmin(node):
        urls = {"verbs": "http://127.0.0.1:8001", "nouns": "http://127.0.0.1:8002"}
        for svc, texts in words.items():
            for text in texts:
                response = requests.post(
                    f"{urls[svc]}/api/v1/{svc}/",
                    json={"text": text},
                    headers={"Authorization": f"Token {tokens[svc]}"},
                    timeout=10,
                )
                assert response.status_code == 201, response.text
        old = pod_of("postgres")["metadata"]
        kubectl("delete", "pod", old["name"], "-n", NAMESPACE, "--wait=false")
        ready_since("postgres", old["uid"])
        for svc in ("verbs", "nouns"):
            wait_until(
                f"{svc} ready again on the new PostgreSQL",
                lambda svc=svc: requests.get(f"{urls[svc]}/readyz", timeout=5).status_code == 200,
                timeout=120,
            )
            listed = requests.get(f"{urls[svc]}/all", timeout=10).json()[svc]
            assert set(words[svc]) <= set(listed), (
                f"{svc} lost words: {set(words[svc]) - set(listed)}"
            )
    assert {svc: restarts(svc) for svc in ("verbs", "nouns")} == before, "a word service restarted"


# --- undeploy and the node taken down --------------------------------------------------------


def test_make_undeploy_removes_the_app_and_its_volume(node: dict[str, str]) -> None:
    claim = get_json("pvc", "-n", NAMESPACE, "-l", "app=postgres")["items"][0]
    volume = claim["spec"]["volumeName"]
    make("undeploy", node)
    assert kubectl("get", "namespace", NAMESPACE, check=False).returncode != 0
    wait_until(
        f"the volume {volume} to be deleted",
        lambda: kubectl("get", "pv", volume, check=False).returncode != 0,
        timeout=180,
    )


def test_cluster_down_removes_everything_it_made(node: dict[str, str]) -> None:
    saved = dict(
        line.split("=", 1)
        for line in Path("/var/lib/wordmix-node/sysctls.saved").read_text().splitlines()
    )
    state = Path("/var/lib/wordmix-node")
    run_logged("cluster-down", [str(NODE), "down"], node, timeout=600)
    assert not state.exists()
    assert not Path("/run/wordmix-node").exists()
    mounts = Path("/proc/self/mountinfo").read_text()
    assert "/var/lib/wordmix-node" not in mounts and "/run/wordmix-node" not in mounts
    links = subprocess.run(["ip", "-o", "link"], capture_output=True, text=True, check=True).stdout
    assert "wmx-node" not in links and " veth" not in links, links
    tables = subprocess.run(
        ["nft", "list", "tables"], capture_output=True, text=True, check=True
    ).stdout
    for table in ("wordmix-node", "kube-proxy", "kube-network-policies"):
        assert table not in tables, tables
    netns = subprocess.run(
        ["ip", "netns", "list"], capture_output=True, text=True, check=True
    ).stdout
    assert "cni-" not in netns, netns
    # Every daemon of the node has its state or run directory on its command line.
    found = subprocess.run(
        ["pgrep", "-af", "/var/lib/wordmix-node|/run/wordmix-node"],
        capture_output=True,
        text=True,
        check=False,
    )
    assert not found.stdout.strip(), f"still running: {found.stdout}"
    for key, value in saved.items():
        assert Path(f"/proc/sys/{key.replace('.', '/')}").read_text().strip() == value.strip(), key
