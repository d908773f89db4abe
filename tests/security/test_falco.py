"""Falco layer: the wordmix rules and the chart values that install them.

Falco cannot run on this machine (no cluster, no eBPF probe loading), so these tests check
statically what Falco would check at load time, plus what the chart does with our values.
They do not prove that a rule fires on a real event; `make verify` on a cluster does that.
"""

from __future__ import annotations

import copy
import importlib.util
import re
from typing import Any
from urllib.parse import urlsplit

import pytest
import yaml
from _falco import (
    AUDIT_DIR,
    AUDIT_LEVELS,
    DEFAULT_NAMES_FILE,
    RULES_FILE,
    VALUES_FILE,
    AuditRequest,
    ConditionError,
    DefaultNames,
    audit_level,
    chart_rules_configmap,
    check_rules,
    libsinsp_fields,
    libsinsp_filter_error,
    load_default_names,
    load_yaml,
    output_fields,
    parse_condition,
    rule_filters,
)

# The manifest rendering helpers live with the KubeArmor tests, which need them first.
from _kubearmor import NAMESPACE, OVERLAYS_DIR, kustomize, pod_templates

pytestmark = pytest.mark.security

EMBED_SCRIPT = VALUES_FILE.parent / "embed_rules.py"
CHART_KEYS_FILE = VALUES_FILE.parent / "chart_keys.yaml"

EXPECTED_RULES = {
    "Write below etc in wordmix container",
    "Shell spawned in wordmix container",
    "Package manager run in wordmix container",
    "Service account token read in wordmix container",
    "Unexpected outbound connection from wordmix word service",
    "Python process spawned a program in wordmix container",
}


@pytest.fixture(scope="module")
def rules() -> list[dict[str, Any]]:
    return load_yaml(RULES_FILE)


@pytest.fixture(scope="module")
def names() -> DefaultNames:
    return load_default_names()


@pytest.fixture(scope="module")
def values() -> dict[str, Any]:
    return load_yaml(VALUES_FILE)


def rule(items: list[dict[str, Any]], name: str) -> dict[str, Any]:
    return next(item for item in items if item.get("rule") == name)


# --- the rules file ----------------------------------------------------------------------------


def test_rules_file_passes_every_static_check(rules: list[dict[str, Any]], names: DefaultNames):
    assert check_rules(rules, names) == []


def test_rules_file_has_the_wordmix_rules(rules: list[dict[str, Any]]):
    assert {item["rule"] for item in rules if "rule" in item} == EXPECTED_RULES


def test_every_default_name_we_record_is_one_we_use(
    rules: list[dict[str, Any]], names: DefaultNames
):
    # The allow-list stays honest: a name listed but unused would hide nothing, but it would
    # claim a dependency on the default ruleset that we do not have.
    used_macros: set[str] = set()
    used_lists: set[str] = set()
    used_fields: set[str] = set()
    used_events: set[str] = set()
    for item in rules:
        if "condition" in item:
            refs = parse_condition(item["condition"])
            used_macros |= refs.macros
            used_lists |= refs.lists
            used_fields |= refs.fields
            used_events |= refs.event_types
        if "output" in item:
            used_fields |= output_fields(item["output"])
    # A default macro we use brings the lists it names (shell_procs: shell_binaries).
    for macro in used_macros & set(names.macros):
        used_lists |= parse_condition(names.macros[macro]).lists
    assert set(names.macros) - used_macros == set()
    assert names.lists - used_lists == set()
    assert names.fields - used_fields == set()
    assert names.event_types - used_events == set()
    assert set(names.stand_ins) <= used_fields


def test_default_names_record_their_upstream_version():
    source = load_yaml(DEFAULT_NAMES_FILE)["default_ruleset"]
    assert re.fullmatch(r"[0-9a-f]{40}", source["commit"])
    assert source["upstream"] == "falcosecurity/rules rules/falco_rules.yaml"
    assert isinstance(source["required_engine_version"], int)


def test_rules_engine_version_is_that_of_the_ruleset_we_build_on(rules: list[dict[str, Any]]):
    upstream = load_yaml(DEFAULT_NAMES_FILE)["default_ruleset"]["required_engine_version"]
    assert rules[0] == {"required_engine_version": upstream}


def test_word_service_outbound_rule_allows_only_postgres_and_dns(rules: list[dict[str, Any]]):
    allowed = next(i for i in rules if i.get("list") == "wordmix_word_service_allowed_ports")
    assert sorted(allowed["items"]) == [53, 5432]
    condition = rule(rules, "Unexpected outbound connection from wordmix word service")["condition"]
    assert "not fd.sport in (wordmix_word_service_allowed_ports)" in condition
    # The default `outbound` macro ignores private destinations, i.e. everything in a cluster.
    assert "wordmix_outbound_connect" in parse_condition(condition).macros


def test_etc_and_token_rules_catch_failed_attempts(rules: list[dict[str, Any]]):
    # The root filesystem is read-only and no token is mounted, so attacks fail; the default
    # open_write/open_read macros require fd.num>=0 (success) and would stay silent.
    for name in (
        "Write below etc in wordmix container",
        "Service account token read in wordmix container",
    ):
        macros = parse_condition(rule(rules, name)["condition"]).macros
        assert not macros & {"open_write", "open_read"}, name
    attempt = next(i for i in rules if i.get("macro") == "wordmix_open_write_attempt")
    assert "fd.num" not in attempt["condition"]


# --- compiled by libsinsp (Debian's sysdig) ----------------------------------------------------


def test_every_rule_filter_compiles_with_libsinsp(rules: list[dict[str, Any]], names: DefaultNames):
    filters = rule_filters(rules, names)
    assert set(filters) == EXPECTED_RULES
    errors = {name: libsinsp_filter_error(text, names.stand_ins) for name, text in filters.items()}
    assert {name: e for name, e in errors.items() if e} == {}


@pytest.mark.parametrize(
    "broken",
    [
        "proc.name matches bash",
        "proc.cmdlin = bash",
        "(proc.name = bash",
        "proc.name in (a, b",
        "fd.sport in (wordmix_word_service_allowed_ports",
    ],
)
def test_libsinsp_rejects_what_falco_would_reject(names: DefaultNames, broken: str):
    assert libsinsp_filter_error(broken, names.stand_ins) is not None


def test_mutated_rule_fails_to_compile_with_libsinsp(
    rules: list[dict[str, Any]], names: DefaultNames
):
    items = mutated(rules, SHELL, condition=rule(rules, SHELL)["condition"] + " and fd.nme = x")
    error = libsinsp_filter_error(rule_filters(items, names)[SHELL], names.stand_ins)
    assert error is not None and "fd.nme" in error


def test_every_allowed_field_is_known_to_libsinsp(names: DefaultNames):
    known = libsinsp_fields()
    assert len(known) > 200, "sysdig -l listed too few fields to be the field reference"
    newer = names.fields - known
    assert newer == set(names.stand_ins), (
        "fields libsinsp does not know must be recorded (with a stand-in) in "
        f"falco_default_names.yaml: {sorted(newer)}"
    )
    assert set(names.stand_ins.values()) <= known


# --- the condition parser itself ---------------------------------------------------------------


@pytest.mark.parametrize(
    "condition",
    [
        "spawned_process and container",
        "evt.type=connect and evt.dir=<",
        '(fd.typechar=4 or fd.typechar=6) and fd.net!="127.0.0.0/8"',
        "not proc.name in (shell_binaries, package_mgmt_binaries)",
        "proc.aname[2] startswith python and fd.name pmatch (token_dirs)",
        "proc.pname exists and evt.rawres>=0",
        "fd.typechar='f' and proc.args contains \"-m pip\"",
    ],
)
def test_parser_accepts_falco_syntax(condition: str):
    parse_condition(condition)


@pytest.mark.parametrize(
    ("condition", "message"),
    [
        ("(spawned_process and container", "ends too early"),
        ("spawned_process and container)", "unexpected ')'"),
        ("proc.name matches bash", "unknown operator 'matches'"),
        ("proc.name ~= bash", "unknown operator '~'"),
        ("proc.name in shell_binaries", "expected '('"),
        ("proc.name in (a, b", "ends too early"),
        ("spawned_process and", "ends too early"),
        ("and container", "unexpected 'and'"),
        ("fd.name startswith", "ends too early"),
        ('proc.name = "bash', "unterminated string"),
        ("", "empty condition"),
    ],
)
def test_parser_rejects_broken_conditions(condition: str, message: str):
    with pytest.raises(ConditionError, match=re.escape(message)):
        parse_condition(condition)


# --- mutations: each check can fail ------------------------------------------------------------


def mutated(items: list[dict[str, Any]], name: str, **changes: Any) -> list[dict[str, Any]]:
    items = copy.deepcopy(items)
    target = rule(items, name)
    for key, value in changes.items():
        if value is None:
            del target[key]
        else:
            target[key] = value
    return items


SHELL = "Shell spawned in wordmix container"


def test_mutation_unknown_macro_fails(rules: list[dict[str, Any]], names: DefaultNames):
    condition = rule(rules, SHELL)["condition"].replace("shell_procs", "shell_procz")
    errors = check_rules(mutated(rules, SHELL, condition=condition), names)
    assert any("unknown macro 'shell_procz'" in e for e in errors), errors


def test_mutation_unknown_list_fails(rules: list[dict[str, Any]], names: DefaultNames):
    name = "Unexpected outbound connection from wordmix word service"
    condition = rule(rules, name)["condition"].replace("allowed_ports", "allowed_prots")
    errors = check_rules(mutated(rules, name, condition=condition), names)
    assert any("unknown list 'wordmix_word_service_allowed_prots'" in e for e in errors), errors


def test_mutation_unknown_field_fails(rules: list[dict[str, Any]], names: DefaultNames):
    condition = rule(rules, SHELL)["condition"] + " and proc.cmdlin contains x"
    errors = check_rules(mutated(rules, SHELL, condition=condition), names)
    assert any("unknown field 'proc.cmdlin'" in e for e in errors), errors


def test_mutation_unknown_event_type_fails(rules: list[dict[str, Any]], names: DefaultNames):
    items = copy.deepcopy(rules)
    macro = next(i for i in items if i.get("macro") == "wordmix_open_write_attempt")
    macro["condition"] = macro["condition"].replace("openat2", "opnat2")
    errors = check_rules(items, names)
    assert any("unknown event type 'opnat2'" in e for e in errors), errors


def test_mutation_list_naming_an_unknown_list_fails(
    rules: list[dict[str, Any]], names: DefaultNames
):
    items = copy.deepcopy(rules)
    listed = next(i for i in items if i.get("list") == "wordmix_package_manager_binaries")
    listed["items"].append("deb_binarys")
    errors = check_rules(items, names)
    assert any("item 'deb_binarys' names no known list" in e for e in errors), errors


def test_mutation_items_out_of_order_fail(rules: list[dict[str, Any]], names: DefaultNames):
    items = copy.deepcopy(rules)
    items.append(next(i for i in items if i.get("list") == "wordmix_namespaces"))
    errors = check_rules(items, names)
    assert any("comes after a rule" in e for e in errors), errors


def test_mutation_output_without_the_sentence_and_bar_fails(
    rules: list[dict[str, Any]], names: DefaultNames
):
    output = rule(rules, SHELL)["output"].replace(" | ", " ")
    errors = check_rules(mutated(rules, SHELL, output=output), names)
    assert any("a sentence, then ' | '" in e for e in errors), errors


def test_mutation_bad_priority_fails(rules: list[dict[str, Any]], names: DefaultNames):
    errors = check_rules(mutated(rules, SHELL, priority="SEVERE"), names)
    assert any("priority 'SEVERE'" in e for e in errors), errors


def test_mutation_missing_output_field_fails(rules: list[dict[str, Any]], names: DefaultNames):
    output = rule(rules, SHELL)["output"].replace(" pod=%k8s.pod.name", "")
    errors = check_rules(mutated(rules, SHELL, output=output), names)
    assert any("must include %k8s.pod.name" in e for e in errors), errors


def test_mutation_missing_output_key_fails(rules: list[dict[str, Any]], names: DefaultNames):
    errors = check_rules(mutated(rules, SHELL, output=None), names)
    assert any("missing required keys ['output']" in e for e in errors), errors


def test_mutation_unbalanced_condition_fails(rules: list[dict[str, Any]], names: DefaultNames):
    condition = "(" + rule(rules, SHELL)["condition"]
    errors = check_rules(mutated(rules, SHELL, condition=condition), names)
    assert any("does not parse" in e for e in errors), errors


def test_mutation_unknown_key_and_kind_fail(rules: list[dict[str, Any]], names: DefaultNames):
    items = mutated(rules, SHELL, severity="high")
    items.append({"rulez": "typo"})
    errors = check_rules(items, names)
    assert any("unknown keys ['severity']" in e for e in errors), errors
    assert any("not exactly one of" in e for e in errors), errors


def test_mutation_user_macro_that_is_not_never_true_fails(
    rules: list[dict[str, Any]], names: DefaultNames
):
    items = copy.deepcopy(rules)
    macro = next(i for i in items if i.get("macro") == "user_known_wordmix_shell_activities")
    macro["condition"] = "(proc.name = bash)"
    errors = check_rules(items, names)
    assert any("must default to (never_true)" in e for e in errors), errors


# --- the chart values ------------------------------------------------------------------------


def test_values_file_is_what_embed_rules_writes():
    # The whole file, comments included, is exactly what the sync script produces.
    spec = importlib.util.spec_from_file_location("embed_rules", EMBED_SCRIPT)
    assert spec and spec.loader
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    text = VALUES_FILE.read_text()
    assert module.embedded_values(text, RULES_FILE.read_text()) == text, (
        "security/falco/values.yaml is out of date: run `python security/falco/embed_rules.py`"
    )


def test_values_embed_exactly_the_rules_file(values: dict[str, Any]):
    embedded = values["customRules"]["wordmix_rules.yaml"]
    # `|-` drops the final newline; everything else must be byte for byte the rules file.
    assert embedded == RULES_FILE.read_text().rstrip("\n"), (
        "security/falco/values.yaml is out of date: run `python security/falco/embed_rules.py`"
    )
    assert set(values["customRules"]) == {"wordmix_rules.yaml"}


def test_chart_renders_the_rules_configmap_falco_loads(values: dict[str, Any], names: DefaultNames):
    rendered = yaml.safe_load(chart_rules_configmap(values))
    assert rendered["kind"] == "ConfigMap"
    assert rendered["metadata"]["name"] == "falco-rules"
    assert set(rendered["data"]) == {"wordmix_rules.yaml"}
    # What Falco reads from /etc/falco/rules.d is our rules file, and it still passes.
    loaded = yaml.safe_load(rendered["data"]["wordmix_rules.yaml"])
    assert loaded == load_yaml(RULES_FILE)
    assert check_rules(loaded, names) == []
    assert "/etc/falco/rules.d" in values["falco"]["rules_files"]
    assert values["falco"]["rules_files"][-1] == "/etc/falco/rules.d", (
        "our rules use the default macros, so rules.d must load after falco_rules.yaml"
    )


def test_chart_rendering_fails_on_rules_that_break_the_yaml_block():
    # The mapping is really exercised: a tab-indented rules text is not valid YAML once the
    # chart indents it, exactly as helm's output would not be.
    broken = {"customRules": {"wordmix_rules.yaml": "- rule: x\n\t- oops: [1"}}
    with pytest.raises(yaml.YAMLError):
        loaded = yaml.safe_load(chart_rules_configmap(broken))
        yaml.safe_load(loaded["data"]["wordmix_rules.yaml"])


def value_keys(values: dict[str, Any], prefix: str = "") -> set[str]:
    """Dotted key paths of a values tree; lists and customRules' free-form map are leaves."""
    keys: set[str] = set()
    for key, value in values.items():
        path = f"{prefix}{key}"
        if isinstance(value, dict) and value and path != "customRules":
            keys |= value_keys(value, f"{path}.")
        else:
            keys.add(path)
    return keys


def test_values_set_only_keys_the_chart_has(values: dict[str, Any]):
    known = set(load_yaml(CHART_KEYS_FILE)["keys"])
    assert value_keys(values) - known == set()


def test_mutation_misspelt_value_key_fails(values: dict[str, Any]):
    broken = copy.deepcopy(values)
    broken["falcosidekik"] = broken.pop("falcosidekick")
    assert value_keys(broken) - set(load_yaml(CHART_KEYS_FILE)["keys"]) == {
        "falcosidekik.enabled",
        "falcosidekik.webui.enabled",
    }


def test_values_select_modern_ebpf_json_output_audit_plugin_and_sidekick_ui(
    values: dict[str, Any],
):
    assert values["driver"] == {"enabled": True, "kind": "modern_ebpf"}
    falco = values["falco"]
    assert falco["json_output"] is True
    assert set(falco["load_plugins"]) == {"k8saudit", "json"}
    plugins = {p["name"]: p for p in falco["plugins"]}
    assert plugins["k8saudit"]["library_path"] == "libk8saudit.so"
    assert plugins["json"]["library_path"] == "libjson.so"
    assert plugins["k8saudit"]["open_params"].endswith(":9765/k8s-audit")
    assert "/etc/falco/k8s_audit_rules.yaml" in falco["rules_files"]
    install = values["falcoctl"]["config"]["artifact"]["install"]
    assert install["resolveDeps"] is True, "the k8saudit and json plugins come as dependencies"
    assert any(ref.startswith("k8saudit-rules:") for ref in install["refs"])
    assert any(ref.startswith("falco-rules:") for ref in install["refs"])
    webhook = next(s for s in values["services"] if s["name"] == "k8saudit-webhook")
    assert webhook["ports"][0]["port"] == 9765
    assert values["falcosidekick"] == {"enabled": True, "webui": {"enabled": True}}


# --- the rules' scope against the app's rendered manifests -----------------------------------


def list_items(items: list[dict[str, Any]], name: str) -> set[Any]:
    return set(next(i for i in items if i.get("list") == name)["items"])


def test_rules_scope_is_exactly_the_containers_the_app_runs(rules: list[dict[str, Any]]):
    overlays = sorted(p for p in OVERLAYS_DIR.glob("*") if (p / "kustomization.yaml").exists())
    assert overlays, f"no kustomize overlay under {OVERLAYS_DIR} to check the rules against"
    assert list_items(rules, "wordmix_namespaces") == {NAMESPACE}
    for overlay in overlays:
        app: set[str] = set()
        word_services: set[str] = set()
        for pod in pod_templates(kustomize(overlay)):
            for container, image, _ in pod.runs:
                found = re.search(r"(^|/)wordmix-(verbs|nouns|aggregator)(:|@|$)", image)
                if pod.namespace == NAMESPACE and found:
                    app.add(container)
                    if found.group(2) != "aggregator":
                        word_services.add(container)
        assert list_items(rules, "wordmix_app_container_names") == app, overlay.name
        assert list_items(rules, "wordmix_word_service_container_names") == word_services


# --- the API server side of the audit events ----------------------------------------------------


@pytest.fixture(scope="module")
def audit_policy() -> dict[str, Any]:
    return load_yaml(AUDIT_DIR / "audit-policy.yaml")


def test_audit_policy_is_an_audit_policy(audit_policy: dict[str, Any]):
    assert audit_policy["apiVersion"] == "audit.k8s.io/v1"
    assert audit_policy["kind"] == "Policy"
    assert {rule["level"] for rule in audit_policy["rules"]} <= set(AUDIT_LEVELS)
    assert audit_policy["omitStages"] == ["RequestReceived"]


RBAC = "rbac.authorization.k8s.io"


def secrets_levels(policy: dict[str, Any]) -> set[str]:
    return {
        audit_level(policy, AuditRequest(verb=verb, resource="secrets", namespace=ns, user=user))
        for verb in ("get", "list", "watch", "create", "update", "patch", "delete")
        for ns in ("app", "kube-system")
        for user in ("alice", "system:serviceaccount:app:verbs", "system:kube-controller-manager")
    }


def test_audit_policy_never_logs_secret_bodies(audit_policy: dict[str, Any]):
    assert secrets_levels(audit_policy) == {"Metadata"}


@pytest.mark.parametrize(
    ("request_", "level"),
    [
        # What the k8saudit rules read from the request body must be in it.
        (AuditRequest("create", "pods", namespace="app"), "RequestResponse"),
        (AuditRequest("patch", "deployments", "apps", namespace="app"), "RequestResponse"),
        (
            AuditRequest("create", "clusterrolebindings", "rbac.authorization.k8s.io"),
            "RequestResponse",
        ),
        (AuditRequest("create", "configmaps", namespace="app"), "RequestResponse"),
        (AuditRequest("create", "pods/exec", namespace="app"), "Request"),
        (AuditRequest("create", "pods/portforward", namespace="app"), "Request"),
        # Reads are metadata; heartbeats and health checks are not logged.
        (AuditRequest("get", "pods", namespace="app"), "Metadata"),
        (
            AuditRequest("update", "leases", "coordination.k8s.io", namespace="kube-node-lease"),
            "None",
        ),
        (AuditRequest("get", path="/healthz"), "None"),
    ],
)
def test_audit_policy_levels(audit_policy: dict[str, Any], request_: AuditRequest, level: str):
    assert audit_level(audit_policy, request_) == level


def test_mutation_a_broad_rule_before_the_secrets_rule_leaks_them(audit_policy: dict[str, Any]):
    leaky = copy.deepcopy(audit_policy)
    leaky["rules"].insert(0, {"level": "RequestResponse", "resources": [{"group": ""}]})
    assert "RequestResponse" in secrets_levels(leaky)


def test_webhook_points_at_the_falco_audit_service(values: dict[str, Any]):
    config = load_yaml(AUDIT_DIR / "webhook-config.yaml")
    assert config["kind"] == "Config"
    server = urlsplit(config["clusters"][0]["cluster"]["server"])
    webhook = next(s for s in values["services"] if s["name"] == "k8saudit-webhook")
    assert server.port == webhook["ports"][0]["nodePort"]
    k8saudit = next(p for p in values["falco"]["plugins"] if p["name"] == "k8saudit")
    listen = urlsplit(k8saudit["open_params"])
    assert server.path == listen.path == "/k8s-audit"
    assert listen.port == webhook["ports"][0]["port"]
    assert config["current-context"] in {c["name"] for c in config["contexts"]}
