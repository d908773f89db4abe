"""deploy/ renders, validates against the Kubernetes and CRD schemas, and keeps the contract.

No cluster runs here: every overlay is rendered with kubectl's kustomize and every object is
validated by kubectl-validate against the OpenAPI schemas of Kubernetes KUBERNETES_VERSION and
the CRDs of the pinned Gateway API and Istio (all from the Go module proxy).
"""

from __future__ import annotations

import json
import re
import shutil
from pathlib import Path

import pytest
import yaml
from _deploy import (
    DEPLOY,
    NAMESPACE,
    OVERLAYS,
    ROOT,
    SERVICES,
    WORD_SERVICES,
    Doc,
    find,
    kubectl_validate,
    of_kind,
    pod_spec,
    render,
    render_dir,
    run,
    versions,
)

pytestmark = pytest.mark.deploy


@pytest.fixture(scope="module", params=OVERLAYS)
def overlay(request: pytest.FixtureRequest) -> tuple[str, list[Doc]]:
    return request.param, render(request.param)


def env_of(container: Doc) -> dict[str, Doc]:
    return {entry["name"]: entry for entry in container.get("env", [])}


def test_both_overlays_exist() -> None:
    assert {"local", "production"} <= set(OVERLAYS)


def test_every_overlay_renders_the_whole_app_into_its_namespace(
    overlay: tuple[str, list[Doc]],
) -> None:
    _, docs = overlay
    for name in SERVICES:
        for kind in ("Deployment", "Service", "ServiceAccount"):
            find(docs, kind, name)
    for kind in ("StatefulSet", "Service", "ServiceAccount"):
        find(docs, kind, "postgres")
    for name in WORD_SERVICES:
        find(docs, "Job", f"migrate-{name}")
    find(docs, "Gateway", "wordmix-gateway")
    find(docs, "HTTPRoute", "aggregator")
    for doc in docs:
        if doc["kind"] != "Namespace":
            assert doc["metadata"].get("namespace") == NAMESPACE, doc["metadata"]
        assert doc["metadata"]["labels"]["app.kubernetes.io/part-of"] == "wordmix", doc["metadata"]


def test_every_rendered_object_validates_against_the_schemas(
    overlay: tuple[str, list[Doc]], tmp_path: Path
) -> None:
    _, docs = overlay
    validation = kubectl_validate(docs, tmp_path)
    assert validation.checked == len(docs)
    assert validation.errors == {}


def test_the_mesh_policies_validate_against_istios_crds(tmp_path: Path) -> None:
    """make deploy applies security/istio right after the app; a typo there would only show on
    a cluster, so its objects go through the same validator, with Istio's own CRDs."""
    docs = render_dir(ROOT / "security/istio")
    assert {doc["apiVersion"].split("/")[0] for doc in docs} >= {"security.istio.io"}
    validation = kubectl_validate(docs, tmp_path)
    assert validation.checked == len(docs)
    assert validation.errors == {}


def test_the_validator_rejects_broken_objects(tmp_path: Path) -> None:
    """The schema check can fail: a wrong type, an unknown field, an out-of-range port in a
    Gateway (a CRD's schema) and an Istio object with a misspelt field are all reported."""
    docs = render("local")
    deployment = find(docs, "Deployment", "verbs")
    deployment["spec"]["replicas"] = "two"
    job = find(docs, "Job", "migrate-verbs")
    pod_spec(job)["containers"][0]["imagePulPolicy"] = "Never"
    gateway = find(docs, "Gateway", "wordmix-gateway")
    gateway["spec"]["listeners"][0]["port"] = 99999
    peer = {
        "apiVersion": "security.istio.io/v1",
        "kind": "PeerAuthentication",
        "metadata": {"name": "default", "namespace": NAMESPACE},
        "spec": {"mtls": {"mood": "STRICT"}},
    }
    validation = kubectl_validate([deployment, job, gateway, peer], tmp_path)
    assert set(validation.errors) == {
        "000-Deployment-verbs.yaml",
        "001-Job-migrate-verbs.yaml",
        "002-Gateway-wordmix-gateway.yaml",
        "003-PeerAuthentication-default.yaml",
    }
    assert "replicas" in " ".join(validation.errors["000-Deployment-verbs.yaml"])
    assert "imagePulPolicy" in " ".join(validation.errors["001-Job-migrate-verbs.yaml"])
    assert "65535" in " ".join(validation.errors["002-Gateway-wordmix-gateway.yaml"])


def test_services_follow_the_contract(overlay: tuple[str, list[Doc]]) -> None:
    """Names, labels and port 8000 named http, as scripts, policies and docs rely on."""
    _, docs = overlay
    for name in SERVICES:
        deployment = find(docs, "Deployment", name)
        labels = deployment["spec"]["template"]["metadata"]["labels"]
        assert labels["app"] == name
        assert labels["app.kubernetes.io/name"] == name
        assert labels["app.kubernetes.io/part-of"] == "wordmix"
        assert deployment["spec"]["selector"]["matchLabels"] == {"app": name}
        spec = pod_spec(deployment)
        assert spec["serviceAccountName"] == name
        container = spec["containers"][0]
        assert container["name"] == name
        assert container["image"].split("/")[-1].startswith(f"wordmix-{name}:")
        assert {"name": "http", "containerPort": 8000} in container["ports"]
        env = env_of(container)
        assert env["DJANGO_SETTINGS_MODULE"]["value"] == f"wordmix.settings.{name}"
        assert env["DJANGO_SECRET_KEY"]["valueFrom"]["secretKeyRef"]["name"] == f"{name}-secrets"
        for probe, path in (("livenessProbe", "/healthz"), ("readinessProbe", "/readyz")):
            assert container[probe]["httpGet"] == {"path": path, "port": "http"}
        service = find(docs, "Service", name)
        assert service["spec"]["selector"] == {"app": name}
        assert service["spec"]["ports"] == [
            {"name": "http", "port": 8000, "targetPort": "http", "appProtocol": "http"}
        ]
    for name in WORD_SERVICES:
        env = env_of(pod_spec(find(docs, "Deployment", name))["containers"][0])
        assert env["DATABASE_URL"]["valueFrom"]["secretKeyRef"] == {
            "name": f"{name}-secrets",
            "key": "DATABASE_URL",
        }


def test_the_aggregator_finds_both_word_services(overlay: tuple[str, list[Doc]]) -> None:
    _, docs = overlay
    env = env_of(pod_spec(find(docs, "Deployment", "aggregator"))["containers"][0])
    for name in WORD_SERVICES:
        url = env[f"{name.upper()}_URL"]["value"]
        host, _, port = url.removeprefix("http://").partition(":")
        assert host.split(".")[0] == name and host.split(".")[1] == NAMESPACE
        assert int(port) in [p["port"] for p in find(docs, "Service", name)["spec"]["ports"]]


def test_only_the_aggregator_is_routed_from_the_gateway(overlay: tuple[str, list[Doc]]) -> None:
    """The admins stay private: the one HTTPRoute sends everything to the aggregator, and the
    aggregator's Host check accepts the name the route rewrites to."""
    _, docs = overlay
    gateway = find(docs, "Gateway", "wordmix-gateway")
    assert gateway["spec"]["gatewayClassName"] == "istio"
    routes = of_kind(docs, "HTTPRoute", "GRPCRoute", "TLSRoute", "TCPRoute")
    backends = {
        backend["name"]
        for route in routes
        for rule in route["spec"]["rules"]
        for backend in rule["backendRefs"]
    }
    assert backends == {"aggregator"}
    rewrite = routes[0]["spec"]["rules"][0]["filters"][0]["urlRewrite"]["hostname"]
    env = env_of(pod_spec(find(docs, "Deployment", "aggregator"))["containers"][0])
    assert rewrite in env["DJANGO_ALLOWED_HOSTS"]["value"].split(",")


def test_the_generated_gateway_gets_seccomp_and_limits(overlay: tuple[str, list[Doc]]) -> None:
    """Istio's gateway template has no seccomp profile and no limits by default; the Gateway's
    parametersRef ConfigMap adds both so the pod passes Pod Security restricted and Kyverno."""
    _, docs = overlay
    gateway = find(docs, "Gateway", "wordmix-gateway")
    ref = gateway["spec"]["infrastructure"]["parametersRef"]
    assert ref["kind"] == "ConfigMap"
    options = find(docs, "ConfigMap", ref["name"])
    overlay_spec = yaml.safe_load(options["data"]["deployment"])["spec"]["template"]["spec"]
    assert overlay_spec["securityContext"]["seccompProfile"] == {"type": "RuntimeDefault"}
    proxy = overlay_spec["containers"][0]
    assert proxy["name"] == "istio-proxy"
    assert set(proxy["resources"]["limits"]) == {"cpu", "memory"}


def test_postgres_runs_the_pinned_image_with_one_database_per_service(
    overlay: tuple[str, list[Doc]],
) -> None:
    _, docs = overlay
    statefulset = find(docs, "StatefulSet", "postgres")
    spec = pod_spec(statefulset)
    container = spec["containers"][0]
    assert container["image"] == versions()["POSTGRES_IMAGE"]
    assert spec["securityContext"]["runAsUser"] == 999
    mounts = {m["mountPath"] for m in container["volumeMounts"]}
    assert {"/var/lib/postgresql/data", "/var/run/postgresql", "/tmp"} <= mounts
    assert statefulset["spec"]["volumeClaimTemplates"][0]["metadata"]["name"] == "data"
    env = env_of(container)
    assert env["PGDATA"]["value"].startswith("/var/lib/postgresql/data/")
    for name in WORD_SERVICES:
        key = f"{name.upper()}_DB_PASSWORD"
        assert env[key]["valueFrom"]["secretKeyRef"] == {"name": "postgres-secrets", "key": key}
    init = next(v for v in spec["volumes"] if v["name"] == "initdb")["configMap"]["name"]
    script = next(iter(find(docs, "ConfigMap", init)["data"].values()))
    assert script == (DEPLOY / "base/postgres/init-databases.sh").read_text()
    service = find(docs, "Service", "postgres")
    assert service["spec"]["clusterIP"] == "None"
    assert service["spec"]["ports"][0]["port"] == 5432


def test_migrations_run_as_their_service_with_its_image(overlay: tuple[str, list[Doc]]) -> None:
    _, docs = overlay
    for name in WORD_SERVICES:
        job = find(docs, "Job", f"migrate-{name}")
        spec = pod_spec(job)
        container = spec["containers"][0]
        assert container["command"] == [
            "/opt/venv/bin/python",
            "/app/manage.py",
            "migrate",
            "--noinput",
        ]
        service = pod_spec(find(docs, "Deployment", name))
        assert container["image"] == service["containers"][0]["image"]
        assert spec["serviceAccountName"] == name
        assert spec["restartPolicy"] == "Never"
        env = env_of(container)
        assert env["DATABASE_URL"] == env_of(service["containers"][0])["DATABASE_URL"]
        annotations = job["spec"]["template"]["metadata"]["annotations"]
        # Without a native sidecar the Istio proxy outlives `migrate` and the Job never ends.
        assert annotations["sidecar.istio.io/nativeSidecar"] == "true"


def test_local_overlay_uses_loaded_images_and_a_cluster_ip_gateway() -> None:
    docs = render("local")
    for doc in of_kind(docs, "Deployment", "Job"):
        container = pod_spec(doc)["containers"][0]
        assert container["imagePullPolicy"] == "Never", doc["metadata"]["name"]
        assert doc["spec"].get("replicas", 1) == 1
    gateway = find(docs, "Gateway", "wordmix-gateway")
    assert gateway["metadata"]["annotations"]["networking.istio.io/service-type"] == "ClusterIP"


def test_production_overlay_is_highly_available() -> None:
    docs = render("production")
    budgets = {
        d["spec"]["selector"]["matchLabels"]["app"]: d for d in of_kind(docs, "PodDisruptionBudget")
    }
    autoscalers = {
        d["spec"]["scaleTargetRef"]["name"]: d for d in of_kind(docs, "HorizontalPodAutoscaler")
    }
    for name in SERVICES:
        deployment = find(docs, "Deployment", name)
        assert deployment["spec"]["replicas"] >= 2
        assert budgets[name]["spec"]["minAvailable"] >= 1
        assert autoscalers[name]["spec"]["minReplicas"] >= 2
        assert autoscalers[name]["spec"]["scaleTargetRef"]["kind"] == "Deployment"
        spread = pod_spec(deployment)["topologySpreadConstraints"]
        assert {c["topologyKey"] for c in spread} == {
            "kubernetes.io/hostname",
            "topology.kubernetes.io/zone",
        }
        for constraint in spread:
            assert "app" in constraint["matchLabelKeys"]
        assert (
            deployment["spec"]["template"]["metadata"]["labels"]["app.kubernetes.io/part-of"]
            == (constraint["labelSelector"]["matchLabels"]["app.kubernetes.io/part-of"])
        )
    options = find(docs, "ConfigMap", "wordmix-gateway-options")["data"]
    assert {"deployment", "horizontalPodAutoscaler", "podDisruptionBudget"} <= set(options)


def test_components_each_have_a_readme() -> None:
    components = [p for p in (DEPLOY / "components").iterdir() if p.is_dir()]
    assert components
    for component in components:
        assert (component / "kustomization.yaml").exists()
        assert (component / "README.md").read_text().strip(), component.name


def test_the_postgres_init_script_gives_each_service_its_own_database() -> None:
    """init-databases.sh against a real PostgreSQL (Debian's, via scripts/with-postgres.sh):
    each role owns its database, cannot enter the other one, and only its password works."""
    if not shutil.which("psql"):
        pytest.fail("psql is missing: apt-get install postgresql (the server and its client)")
    result = run(
        [
            str(ROOT / "scripts/with-postgres.sh"),
            str(ROOT / ".venv/bin/python"),
            str(ROOT / "tests/deploy/_postgres_init.py"),
        ],
        timeout=120,
    )
    assert result.returncode == 0, result.stderr
    report = json.loads(result.stdout)
    assert report["init_rc"] == 0, report["init_output"]
    for name in WORD_SERVICES:
        assert report[name]["own"] == "ok"
        assert report[name]["other"].startswith("refused: ")
        assert "permission denied for database" in report[name]["other"]
        assert "password authentication failed" in report[name]["wrong_password"]
    assert report["second_run_rc"] != 0


def test_the_manifests_match_the_image(overlay: tuple[str, list[Doc]]) -> None:
    """The uid, the port and the paths the manifests rely on are those the Dockerfile makes."""
    _, docs = overlay
    dockerfile = (ROOT / "Dockerfile").read_text()
    user = re.findall(r"^USER (\d+):(\d+)$", dockerfile, flags=re.MULTILINE)
    exposed = re.findall(r"^EXPOSE (\d+)$", dockerfile, flags=re.MULTILINE)
    assert user and exposed
    uid, gid = (int(n) for n in user[-1])
    for name in SERVICES:
        spec = pod_spec(find(docs, "Deployment", name))
        assert (spec["securityContext"]["runAsUser"], spec["securityContext"]["runAsGroup"]) == (
            uid,
            gid,
        )
        assert spec["containers"][0]["ports"][0]["containerPort"] == int(exposed[-1])
        stage = re.search(
            rf"^FROM runtime AS {name}$.*?^ENV DJANGO_SETTINGS_MODULE=(\S+)$",
            dockerfile,
            flags=re.MULTILINE | re.DOTALL,
        )
        assert stage, f"no {name} stage in the Dockerfile"
        env = env_of(spec["containers"][0])
        assert env["DJANGO_SETTINGS_MODULE"]["value"] == stage[1]
    for name in WORD_SERVICES:
        command = pod_spec(find(docs, "Job", f"migrate-{name}"))["containers"][0]["command"]
        assert "python3 -m venv /opt/venv" in dockerfile and command[0].startswith("/opt/venv/")
        assert "WORKDIR /app" in dockerfile and "COPY manage.py" in dockerfile
        assert command[1] == "/app/manage.py"
