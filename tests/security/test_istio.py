"""security/istio: istioctl's own checks, and the authorization policies judged as data.

istioctl is the pinned one (scripts/tools/istioctl.sh; built once, then cached). The policy
table runs the policies through `_istio_authz`, a model of Istio's authorization semantics, so
"only the aggregator may read verbs" is a fact the suite checks, not a comment in YAML.
"""

from __future__ import annotations

import copy
import json
import re
import subprocess
from pathlib import Path
from typing import Any

import pytest
import yaml
from _istio import (
    AGGREGATOR,
    AGGREGATOR_POD,
    GATEWAY,
    GATEWAY_POD,
    ISTIO_DIR,
    NAMESPACE,
    NOUNS,
    NOUNS_POD,
    POSTGRES_POD,
    PROFILE,
    VERBS,
    VERBS_POD,
    istioctl,
    load_docs,
    overlays,
    pods_of,
    policy_docs,
    policy_files,
    render,
    serving_port,
    versions,
)
from _istio_authz import ALLOW, DENY, Request, decide

pytestmark = pytest.mark.security

MANIFESTS = sorted(p for p in ISTIO_DIR.glob("*.yaml") if p.name != "kustomization.yaml")


def run(*args: Any) -> subprocess.CompletedProcess[str]:
    return subprocess.run([str(a) for a in args], capture_output=True, text=True, check=False)


def authorization_policies() -> list[dict[str, Any]]:
    return [doc for doc in policy_docs() if doc["kind"] == "AuthorizationPolicy"]


# --- the files and the tool ------------------------------------------------------------------


def test_kustomization_applies_every_policy_file_and_not_the_profile():
    listed = {p.name for p in policy_files()}
    on_disk = {p.name for p in MANIFESTS} - {PROFILE.name}
    assert listed == on_disk
    assert PROFILE.name not in listed


def test_istioctl_is_the_pinned_version():
    pinned = versions()["ISTIO_VERSION"]
    done = run(istioctl(), "version", "--remote=false", "-o", "json")
    assert done.returncode == 0, done.stderr
    assert json.loads(done.stdout)["clientVersion"]["version"] == pinned


@pytest.mark.parametrize("manifest", MANIFESTS, ids=lambda p: p.name)
def test_istioctl_validates(manifest: Path):
    done = run(istioctl(), "validate", "-f", manifest)
    assert done.returncode == 0, done.stdout + done.stderr
    assert "Error" not in done.stdout + done.stderr


def test_profile_renders_the_control_plane_without_the_classic_gateways():
    done = run(istioctl(), "manifest", "generate", "-f", PROFILE)
    assert done.returncode == 0, done.stderr
    docs = [d for d in yaml.safe_load_all(done.stdout) if d]
    deployments = {d["metadata"]["name"] for d in docs if d["kind"] == "Deployment"}
    assert "istiod" in deployments
    assert not deployments & {"istio-ingressgateway", "istio-egressgateway"}
    # The pinned build stamps its own version as the image tag (an unstamped build says
    # "unknown", which no registry has).
    by_name = {(d["kind"], d["metadata"]["name"]): d for d in docs}
    istiod = by_name["Deployment", "istiod"]
    image = istiod["spec"]["template"]["spec"]["containers"][0]["image"]
    assert image.endswith(":" + versions()["ISTIO_VERSION"]), image
    mesh = yaml.safe_load(by_name["ConfigMap", "istio"]["data"]["mesh"])
    assert mesh["pathNormalization"]["normalization"] == "DECODE_AND_MERGE_SLASHES"


# --- istioctl analyze over the policies and the app ------------------------------------------
# File-only analysis ignores Pods, Services, Namespaces, Nodes and Secrets in its input (istioctl
# leaves those to a live cluster), so the analyzers that need them - policy selectors without
# workloads, VirtualService hosts without a Service - do not run here. The selector and identity
# tests below check those against deploy/ instead.


def analyze(*files: Path, tmp_path: Path) -> list[dict[str, Any]]:
    mesh_config = tmp_path / "mesh-config.yaml"
    mesh_config.write_text(yaml.safe_dump(load_docs(PROFILE)[0]["spec"]["meshConfig"]))
    done = run(
        istioctl(),
        "analyze",
        "--use-kube=false",
        "--all-namespaces",  # without it, only messages about namespace `default` are shown
        "--meshConfigFile",
        mesh_config,
        "-o",
        "json",
        *files,
    )
    # Exit code 79 only says that messages were found; the tests judge them.
    assert done.returncode in (0, 79), done.stderr
    return json.loads(done.stdout or "[]")


def describe(messages: list[dict[str, Any]]) -> str:
    return "\n".join(
        f"{m['level']} {m['code']} {m.get('origin', '')}: {m['message']}" for m in messages
    )


def test_analyze_policies_alone_is_clean(tmp_path: Path):
    messages = analyze(*policy_files(), tmp_path=tmp_path)
    assert not messages, describe(messages)


@pytest.mark.parametrize("overlay", overlays() or [None], ids=lambda p: p.name if p else "none")
def test_analyze_policies_with_the_app_is_clean(overlay: Path | None, tmp_path: Path):
    if overlay is None:
        pytest.skip("deploy/ has no overlay or base to render yet; analysed the policies alone")
    rendered = tmp_path / "app.yaml"
    rendered.write_text(yaml.safe_dump_all(render(overlay)))
    messages = analyze(rendered, *policy_files(), tmp_path=tmp_path)
    assert not messages, describe(messages)


def test_analyze_reports_a_broken_route_in_namespace_app(tmp_path: Path):
    """The check above can fail: a route to a subset no DestinationRule defines is an error,
    seen in namespace `app` (which a plain `analyze` without --all-namespaces would hide)."""
    services = load_docs(ISTIO_DIR / "virtual-services.yaml")
    services[0]["spec"]["http"][0]["route"][0]["destination"]["subset"] = "missing"
    broken = tmp_path / "virtual-services.yaml"
    broken.write_text(yaml.safe_dump_all(services))
    messages = analyze(ISTIO_DIR / "destination-rules.yaml", broken, tmp_path=tmp_path)
    assert [(m["level"], m["code"]) for m in messages] == [("Error", "IST0101")], describe(messages)


def selected_by_a_service(pod: dict[str, Any], docs: tuple[dict[str, Any], ...]) -> bool:
    labels = pod["metadata"]["labels"]
    if "gateway.networking.k8s.io/gateway-name" in labels:
        return True  # istiod makes the gateway's Service
    return any(
        d["kind"] == "Service"
        and d["metadata"].get("namespace") == pod["metadata"]["namespace"]
        and d["spec"].get("selector")
        and d["spec"]["selector"].items() <= labels.items()
        for d in docs
    )


@pytest.mark.parametrize("overlay", overlays() or [None], ids=lambda p: p.name if p else "none")
def test_every_served_workload_is_opened_by_exactly_one_allow_policy(overlay: Path | None):
    """allow-nothing closes every pod in the namespace: a pod behind a Service that no ALLOW
    policy selects would be unreachable, one selected twice has a policy broader than meant,
    and a pod nothing serves (a migrate Job) needs no opening at all."""
    if overlay is None:
        pytest.skip("deploy/ has no overlay or base to render yet")
    docs = render(overlay)
    pods = [p for p in pods_of(docs) if p["metadata"]["namespace"] == NAMESPACE]
    assert pods
    allows = [
        p
        for p in authorization_policies()
        if p["spec"].get("action", "ALLOW") == "ALLOW" and p["spec"].get("selector")
    ]
    for pod in pods:
        labels = pod["metadata"]["labels"]
        selecting = [
            p["metadata"]["name"]
            for p in allows
            if p["spec"]["selector"]["matchLabels"].items() <= labels.items()
        ]
        expected = 1 if selected_by_a_service(pod, docs) else 0
        assert len(selecting) == expected, (pod["metadata"]["name"], selecting)


@pytest.mark.parametrize("overlay", overlays() or [None], ids=lambda p: p.name if p else "none")
def test_the_principals_in_the_policies_are_the_app_service_accounts(overlay: Path | None):
    if overlay is None:
        pytest.skip("deploy/ has no overlay or base to render yet")
    pods = pods_of(render(overlay))
    accounts = {
        f"cluster.local/ns/{p['metadata']['namespace']}/sa/{p['spec'].get('serviceAccountName')}"
        for p in pods
    }
    used = {
        principal
        for policy in authorization_policies()
        for rule in policy["spec"].get("rules", [])
        for source in rule.get("from", [])
        for principal in source["source"].get("principals", [])
    }
    assert used <= accounts, used - accounts


# --- who may call what: the policies as data -------------------------------------------------


def verdict(
    workload: dict[str, str], method: str | None, path: str | None, principal: str | None
) -> str:
    """`method` None is a TCP connection; `path` then names the port."""
    if method is None:
        request = Request(workload, None, None, principal, port=int(path or 0))
    else:
        request = Request(workload, method, path, principal, port=serving_port(workload))
    return decide(authorization_policies(), request).verdict


VERB_LIST, VERB_RANDOM = "/api/v1/verbs/", "/api/v1/verbs/random/"
NOUN_RANDOM = "/api/v1/nouns/random/"

TABLE = [
    # word services: the aggregator may read what it reads, nobody else may do anything
    ("aggregator reads a random verb", VERBS_POD, "GET", VERB_RANDOM, AGGREGATOR, ALLOW),
    ("aggregator reads the verb list", VERBS_POD, "GET", "/all", AGGREGATOR, ALLOW),
    ("aggregator reads a random noun", NOUNS_POD, "GET", NOUN_RANDOM, AGGREGATOR, ALLOW),
    ("aggregator reads the noun list", NOUNS_POD, "GET", "/all", AGGREGATOR, ALLOW),
    ("query strings do not change the path", NOUNS_POD, "GET", "/all?x=1", AGGREGATOR, ALLOW),
    ("nouns service reads verbs", VERBS_POD, "GET", VERB_RANDOM, NOUNS, DENY),
    ("verbs service reads nouns", NOUNS_POD, "GET", "/all", VERBS, DENY),
    ("gateway reads verbs directly", VERBS_POD, "GET", VERB_RANDOM, GATEWAY, DENY),
    ("plaintext caller reads verbs", VERBS_POD, "GET", VERB_RANDOM, None, DENY),
    ("aggregator POSTs a verb", VERBS_POD, "POST", VERB_LIST, AGGREGATOR, DENY),
    ("aggregator POSTs to the old /add", VERBS_POD, "POST", "/add", AGGREGATOR, DENY),
    ("aggregator PUTs a noun", NOUNS_POD, "PUT", "/api/v1/nouns/1/", AGGREGATOR, DENY),
    ("aggregator DELETEs a verb", VERBS_POD, "DELETE", "/api/v1/verbs/1/", AGGREGATOR, DENY),
    ("aggregator PATCHes a verb", VERBS_POD, "PATCH", "/api/v1/verbs/1/", AGGREGATOR, DENY),
    ("aggregator sends HEAD", VERBS_POD, "HEAD", VERB_RANDOM, AGGREGATOR, DENY),
    ("aggregator pages the verb API", VERBS_POD, "GET", VERB_LIST, AGGREGATOR, DENY),
    ("aggregator reads one verb by id", VERBS_POD, "GET", "/api/v1/verbs/1/", AGGREGATOR, DENY),
    ("aggregator asks the old /random", NOUNS_POD, "GET", "/random", AGGREGATOR, DENY),
    ("aggregator asks the verbs schema", VERBS_POD, "GET", "/api/schema/", AGGREGATOR, DENY),
    ("aggregator opens the verbs admin", VERBS_POD, "GET", "/admin/", AGGREGATOR, DENY),
    ("gateway opens the verbs admin", VERBS_POD, "GET", "/admin/", GATEWAY, DENY),
    ("gateway opens the nouns admin login", NOUNS_POD, "GET", "/admin/login/", GATEWAY, DENY),
    ("gateway posts to the API login", NOUNS_POD, "POST", "/api-auth/login/", GATEWAY, DENY),
    ("aggregator asks verbs' health", VERBS_POD, "GET", "/healthz", AGGREGATOR, DENY),
    # the aggregator: only through the gateway
    ("gateway asks for a mix", AGGREGATOR_POD, "GET", "/api/v1/mix/", GATEWAY, ALLOW),
    ("gateway asks for the page", AGGREGATOR_POD, "GET", "/", GATEWAY, ALLOW),
    ("gateway asks for the old /random", AGGREGATOR_POD, "GET", "/random", GATEWAY, ALLOW),
    ("gateway asks for a static file", AGGREGATOR_POD, "GET", "/static/app.css", GATEWAY, ALLOW),
    ("gateway asks for the schema", AGGREGATOR_POD, "GET", "/api/schema/", GATEWAY, ALLOW),
    ("gateway asks for the docs page", AGGREGATOR_POD, "GET", "/api/docs/", GATEWAY, ALLOW),
    ("verbs service asks for a mix", AGGREGATOR_POD, "GET", "/api/v1/mix/", VERBS, DENY),
    ("plaintext caller asks for a mix", AGGREGATOR_POD, "GET", "/api/v1/mix/", None, DENY),
    ("gateway POSTs a mix", AGGREGATOR_POD, "POST", "/api/v1/mix/", GATEWAY, DENY),
    ("gateway opens an aggregator admin", AGGREGATOR_POD, "GET", "/admin/", GATEWAY, DENY),
    # the gateway: anyone outside may read the public pages, nothing more
    ("browser asks the gateway for a mix", GATEWAY_POD, "GET", "/api/v1/mix/", None, ALLOW),
    ("browser asks the gateway for the page", GATEWAY_POD, "GET", "/", None, ALLOW),
    ("browser asks the gateway for the admin", GATEWAY_POD, "GET", "/admin/", None, DENY),
    ("browser asks the gateway for verbs", GATEWAY_POD, "GET", VERB_LIST, None, DENY),
    ("browser POSTs through the gateway", GATEWAY_POD, "POST", "/api/v1/mix/", None, DENY),
    # PostgreSQL (TCP; the "path" is the port): the word services and their migrate Jobs only
    ("verbs connects to the database", POSTGRES_POD, None, "5432", VERBS, ALLOW),
    ("nouns connects to the database", POSTGRES_POD, None, "5432", NOUNS, ALLOW),
    ("aggregator connects to the database", POSTGRES_POD, None, "5432", AGGREGATOR, DENY),
    ("gateway connects to the database", POSTGRES_POD, None, "5432", GATEWAY, DENY),
    ("plaintext client connects to the database", POSTGRES_POD, None, "5432", None, DENY),
    ("verbs connects to another port", POSTGRES_POD, None, "8000", VERBS, DENY),
    # anything else in the namespace (a new pod) is closed by allow-nothing
    ("aggregator calls an unknown pod", {"app": "newcomer"}, "GET", "/", AGGREGATOR, DENY),
]


@pytest.mark.parametrize(
    ("workload", "method", "path", "principal", "expected"),
    [case[1:] for case in TABLE],
    ids=[case[0] for case in TABLE],
)
def test_authorization(workload, method, path, principal, expected):
    assert verdict(workload, method, path, principal) == expected


def aggregator_calls(monkeypatch: pytest.MonkeyPatch) -> set[tuple[str, str]]:
    """(service, path) for every upstream call the aggregator's own code makes, in both of its
    modes: the cached word list, and one random word (fan-out, or a list too long to cache).
    Its one way out is `fetch_json`, an HTTP GET; here it answers without a network."""
    from aggregator import upstream

    calls: set[tuple[str, str]] = set()

    def fetch_json(service: Any, path: str, **_: Any) -> dict[str, Any]:
        calls.add((service.name, path))
        return {service.name: ["word"], service.singular: "word"}

    monkeypatch.setattr(upstream, "fetch_json", fetch_json)
    for service in upstream.upstreams():
        upstream.WordList(service, ttl=1.0, max_words=10).random_word()  # lists mode
        upstream.WordList(service, ttl=1.0, max_words=0).random_word()  # list too long
        upstream.random_word(service)  # fan-out mode
    return calls


def test_the_word_services_open_exactly_what_the_aggregator_asks_for(monkeypatch):
    calls = aggregator_calls(monkeypatch)
    assert {service for service, _ in calls} == {"verbs", "nouns"}
    for service, path in calls:
        assert verdict({"app": service}, "GET", path, AGGREGATOR) == ALLOW, (service, path)
    opened = {
        (policy["metadata"]["name"], path)
        for policy in authorization_policies()
        if policy["metadata"]["name"] in {"verbs", "nouns"}
        for rule in policy["spec"]["rules"]
        for target in rule["to"]
        for path in target["operation"]["paths"]
    }
    assert opened == calls  # nothing opened that the aggregator never asks for


def test_every_exact_path_opened_on_the_aggregator_is_one_it_serves():
    from django.urls import resolve

    (policy,) = [p for p in authorization_policies() if p["metadata"]["name"] == "aggregator"]
    paths = [
        path
        for rule in policy["spec"]["rules"]
        for target in rule["to"]
        for path in target["operation"]["paths"]
        if not path.endswith("*")  # /static/* is whitenoise's, before the URLconf
    ]
    for path in paths:
        resolve(path, urlconf="wordmix.urls.aggregator")  # raises Resolver404 otherwise


def test_the_table_can_fail_when_the_principal_constraint_is_dropped():
    """Mutation: without `from`, the verbs policy lets any caller read; the evaluator must see
    it, or the table above proves nothing."""
    foreign = Request(VERBS_POD, "GET", VERB_RANDOM, principal=NOUNS, port=8000)
    policies = authorization_policies()
    assert decide(policies, foreign).verdict == DENY

    broken = copy.deepcopy(policies)
    verbs = next(p for p in broken if p["metadata"]["name"] == "verbs")
    for rule in verbs["spec"]["rules"]:
        rule.pop("from")
    assert decide(broken, foreign).verdict == ALLOW


def test_the_table_can_fail_when_allow_nothing_is_dropped():
    """Mutation: without allow-nothing, a pod that no ALLOW policy selects is open to all."""
    stranger = Request(workload={"app": "newcomer"}, method="GET", path="/", principal=None)
    kept = [p for p in authorization_policies() if p["metadata"]["name"] != "allow-nothing"]
    assert decide(authorization_policies(), stranger).verdict == DENY
    assert decide(kept, stranger).verdict == ALLOW


def test_an_unbound_admin_deny_would_cut_the_database():
    """Why each admin DENY selects one word service and names its port: on TCP, Istio enforces
    a DENY rule without its HTTP-only fields, so a bare path rule denies every connection."""
    connect = Request(POSTGRES_POD, None, None, VERBS, port=5432)
    assert decide(authorization_policies(), connect).verdict == ALLOW
    unbound = copy.deepcopy(authorization_policies())
    for policy in unbound:
        if policy["spec"].get("action") == "DENY":
            del policy["spec"]["selector"]
            for rule in policy["spec"]["rules"]:
                for target in rule["to"]:
                    target["operation"].pop("ports")
    assert decide(unbound, connect).verdict == DENY


def test_the_table_can_fail_when_the_admin_deny_is_shadowed():
    """Mutation: a broad ALLOW added to verbs opens the admin unless the DENY holds it."""
    broad = {
        "kind": "AuthorizationPolicy",
        "metadata": {"name": "too-broad", "namespace": NAMESPACE},
        "spec": {"selector": {"matchLabels": VERBS_POD}, "rules": [{}]},
    }
    admin = Request(VERBS_POD, "GET", "/admin/", principal=GATEWAY, port=8000)
    policies = [*authorization_policies(), broad]
    assert decide(policies, admin).verdict == DENY
    without_deny = [p for p in policies if p["spec"].get("action") != "DENY"]
    assert decide(without_deny, admin).verdict == ALLOW


# --- mutual TLS stays STRICT -----------------------------------------------------------------


def all_mesh_docs() -> list[dict[str, Any]]:
    docs = [doc for path in MANIFESTS for doc in load_docs(path)]
    for overlay in overlays():
        docs.extend(render(overlay))
    return docs


def test_peer_authentication_is_strict_for_the_namespace():
    (default,) = [
        d
        for d in policy_docs()
        if d["kind"] == "PeerAuthentication" and d["metadata"]["name"] == "default"
    ]
    assert default["metadata"]["namespace"] == NAMESPACE
    assert default["spec"] == {"mtls": {"mode": "STRICT"}}  # no selector, no port exceptions


def test_nothing_weakens_mutual_tls():
    for doc in all_mesh_docs():
        namespace = doc.get("metadata", {}).get("namespace")
        spec = doc.get("spec") or {}
        where = f"{doc['kind']} {namespace}/{doc['metadata'].get('name')}"
        if doc["kind"] == "PeerAuthentication":
            modes = [spec.get("mtls", {}).get("mode", "UNSET")]
            modes += [p.get("mode", "UNSET") for p in spec.get("portLevelMtls", {}).values()]
            assert set(modes) <= {"STRICT", "UNSET"}, where
        if doc["kind"] == "DestinationRule":
            policy = spec.get("trafficPolicy", {})
            tls_modes = [policy.get("tls", {}).get("mode")]
            tls_modes += [p.get("tls", {}).get("mode") for p in policy.get("portLevelSettings", [])]
            for subset in spec.get("subsets", []):
                tls_modes.append(subset.get("trafficPolicy", {}).get("tls", {}).get("mode"))
            assert not {"DISABLE", "SIMPLE", "MUTUAL"} & set(tls_modes), where


def test_destination_rules_require_istio_mutual_and_eject_failing_pods():
    rules = {d["metadata"]["name"]: d for d in policy_docs() if d["kind"] == "DestinationRule"}
    assert set(rules) == {"verbs", "nouns", "aggregator"}
    for name, rule in rules.items():
        assert rule["spec"]["host"] == f"{name}.{NAMESPACE}.svc.cluster.local"
        assert rule["spec"]["trafficPolicy"]["tls"]["mode"] == "ISTIO_MUTUAL"
        assert rule["spec"]["trafficPolicy"]["outlierDetection"]["consecutive5xxErrors"] > 0


# --- timeouts and retries --------------------------------------------------------------------


def seconds(duration: str) -> float:
    match = re.fullmatch(r"(\d+(?:\.\d+)?)(ms|s)", duration)
    assert match, duration
    return float(match[1]) / (1000 if match[2] == "ms" else 1)


def test_upstream_routes_time_out_just_above_the_app_and_retry_only_reads(settings):
    app_budget = settings.UPSTREAM_CONNECT_TIMEOUT + settings.UPSTREAM_READ_TIMEOUT
    services = {d["metadata"]["name"]: d for d in policy_docs() if d["kind"] == "VirtualService"}
    assert set(services) == {"verbs", "nouns"}
    for name, service in services.items():
        assert service["spec"]["hosts"] == [f"{name}.{NAMESPACE}.svc.cluster.local"]
        for route in service["spec"]["http"]:
            # The app's own limit must fire first, so its 504 problem document is what callers
            # get; the mesh's limit is a backstop a little above it.
            assert app_budget <= seconds(route["timeout"]) <= app_budget + 1.0, route["name"]
            methods = {m["method"]["exact"] for m in route.get("match", []) if "method" in m}
            if methods == {"GET"}:
                assert route["retries"]["attempts"] >= 1
                assert "5xx" not in route["retries"]["retryOn"].split(",")
            else:
                assert route["retries"] == {"attempts": 0}, route["name"]
        assert service["spec"]["http"][-1].get("match") is None  # a catch-all comes last
