"""Istio's AuthorizationPolicy semantics, over the policies read as plain data.

A small, strict model of what a sidecar's RBAC filters decide for one HTTP request, written
from Istio's reference (security.istio.io/v1 AuthorizationPolicy) so the tests can ask "would
this request pass?" without a cluster:

- a policy applies to a workload when it is in the workload's namespace (or the root namespace)
  and its `selector.matchLabels` are a subset of the workload's labels (no selector: all);
- any matching DENY policy denies; otherwise, if no ALLOW policy applies, the request is
  allowed; otherwise it is allowed only when a rule of an applying ALLOW policy matches;
- an ALLOW policy without rules (`spec: {}`, allow-nothing) applies and matches nothing;
- a rule matches when its `from`, `to` and `when` all match (a missing one matches anything);
  a list of sources or operations matches when any item does; inside one item every field
  set must match; `principals: ["*"]` still needs a peer identity (mutual TLS);
- strings are exact, `prefix*`, `*suffix` or `*`; paths are compared without the query string;
- on plain TCP traffic, HTTP-only fields (methods, paths) cannot be judged: an ALLOW rule using
  one never matches, while a DENY rule is enforced without it, i.e. more widely.

Anything this model does not implement (CUSTOM action, targetRefs, `when`, ip blocks, path
templates, ...) raises `Unsupported` instead of guessing, so a policy that grows past the model
fails the tests loudly rather than being judged wrongly.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml

ROOT_NAMESPACE = "istio-system"
ALLOW = "allow"
DENY = "deny"


class Unsupported(ValueError):
    """The policy uses a feature this model does not evaluate."""


@dataclass(frozen=True)
class Request:
    """One HTTP request as the receiving sidecar sees it."""

    workload: Mapping[str, str]  # the target pod's labels
    method: str | None  # None for plain TCP
    path: str | None
    principal: str | None = None  # the caller's mTLS identity; None for plaintext
    namespace: str = "app"  # the target pod's namespace
    source_namespace: str | None = None
    port: int | None = None

    @property
    def is_tcp(self) -> bool:
        return self.method is None


@dataclass
class Decision:
    verdict: str
    reason: str
    matched: list[str] = field(default_factory=list)

    @property
    def allowed(self) -> bool:
        return self.verdict == ALLOW


def load_policies(paths: Iterable[Path]) -> list[dict[str, Any]]:
    """Every AuthorizationPolicy document in the given YAML files."""
    policies = []
    for path in paths:
        for doc in yaml.safe_load_all(path.read_text()):
            if doc and doc.get("kind") == "AuthorizationPolicy":
                policies.append(doc)
    return policies


def _name(policy: Mapping[str, Any]) -> str:
    meta = policy.get("metadata", {})
    return f"{meta.get('namespace', '')}/{meta.get('name', '')}"


def string_matches(pattern: str, value: str | None) -> bool:
    if value is None:
        return False
    if "{" in pattern:
        raise Unsupported(f"path templates are not modelled: {pattern!r}")
    if pattern == "*":
        return True
    if pattern.startswith("*"):
        return value.endswith(pattern[1:])
    if pattern.endswith("*"):
        return value.startswith(pattern[:-1])
    return value == pattern


def _any(patterns: Iterable[str], value: str | None) -> bool:
    return any(string_matches(p, value) for p in patterns)


def _applies(policy: Mapping[str, Any], request: Request) -> bool:
    meta = policy.get("metadata", {})
    spec = policy.get("spec") or {}
    if "targetRef" in spec or "targetRefs" in spec:
        raise Unsupported(f"{_name(policy)}: targetRefs are not modelled")
    namespace = meta.get("namespace")
    if namespace not in (request.namespace, ROOT_NAMESPACE):
        return False
    selector = spec.get("selector")
    if selector is None:
        return True
    extra = set(selector) - {"matchLabels"}
    if extra:
        raise Unsupported(f"{_name(policy)}: selector fields {sorted(extra)}")
    labels = selector.get("matchLabels") or {}
    return all(request.workload.get(k) == v for k, v in labels.items())


_SOURCE_FIELDS = {"principals", "notPrincipals", "namespaces", "notNamespaces"}
_OPERATION_FIELDS = {"methods", "notMethods", "paths", "notPaths", "ports", "notPorts"}
_HTTP_ONLY_FIELDS = {"methods", "notMethods", "paths", "notPaths"}


def _source_matches(source: Mapping[str, Any], request: Request) -> bool:
    extra = set(source) - _SOURCE_FIELDS
    if extra:
        raise Unsupported(f"source fields {sorted(extra)}")
    if "principals" in source and not _any(source["principals"], request.principal):
        return False
    if "notPrincipals" in source and _any(source["notPrincipals"], request.principal):
        return False
    if "namespaces" in source and not _any(source["namespaces"], request.source_namespace):
        return False
    return not (
        "notNamespaces" in source and _any(source["notNamespaces"], request.source_namespace)
    )


def _operation_matches(operation: Mapping[str, Any], request: Request, action: str) -> bool:
    extra = set(operation) - _OPERATION_FIELDS
    if extra:
        raise Unsupported(f"operation fields {sorted(extra)}")
    if request.is_tcp and action != "ALLOW":
        operation = {k: v for k, v in operation.items() if k not in _HTTP_ONLY_FIELDS}
    path = None if request.path is None else request.path.split("?", 1)[0]
    port = None if request.port is None else str(request.port)
    checks = [
        ("methods", "notMethods", request.method),
        ("paths", "notPaths", path),
        ("ports", "notPorts", port),
    ]
    for positive, negative, value in checks:
        if positive in operation and not _any(map(str, operation[positive]), value):
            return False
        if negative in operation and _any(map(str, operation[negative]), value):
            return False
    return True


def rule_matches(rule: Mapping[str, Any], request: Request, action: str = "ALLOW") -> bool:
    extra = set(rule) - {"from", "to"}
    if extra:
        raise Unsupported(f"rule fields {sorted(extra)}")
    sources = [item.get("source", {}) for item in rule.get("from", [])]
    operations = [item.get("operation", {}) for item in rule.get("to", [])]
    if request.is_tcp and action == "ALLOW" and any(_HTTP_ONLY_FIELDS & set(o) for o in operations):
        return False  # Istio skips the whole ALLOW rule on a TCP filter chain
    if "from" in rule and not any(_source_matches(s, request) for s in sources):
        return False
    return not (
        "to" in rule and not any(_operation_matches(o, request, action) for o in operations)
    )


def _matching_rules(policy: Mapping[str, Any], request: Request) -> bool:
    spec = policy.get("spec") or {}
    action = spec.get("action", "ALLOW")
    return any(rule_matches(rule, request, action) for rule in spec.get("rules") or [])


def decide(policies: Iterable[Mapping[str, Any]], request: Request) -> Decision:
    """What Istio's sidecar would do with `request`, given every policy in the mesh."""
    applying: dict[str, list[Mapping[str, Any]]] = {"ALLOW": [], "DENY": []}
    for policy in policies:
        action = (policy.get("spec") or {}).get("action", "ALLOW")
        if action == "AUDIT":
            continue  # audit only logs
        if action not in applying:
            raise Unsupported(f"{_name(policy)}: action {action} is not modelled")
        if _applies(policy, request):
            applying[action].append(policy)

    denying = [_name(p) for p in applying["DENY"] if _matching_rules(p, request)]
    if denying:
        return Decision(DENY, "a DENY policy matches", denying)
    if not applying["ALLOW"]:
        return Decision(ALLOW, "no ALLOW policy selects the workload")
    allowing = [_name(p) for p in applying["ALLOW"] if _matching_rules(p, request)]
    if allowing:
        return Decision(ALLOW, "an ALLOW rule matches", allowing)
    selected = [_name(p) for p in applying["ALLOW"]]
    return Decision(DENY, "ALLOW policies select the workload and none matches", selected)
