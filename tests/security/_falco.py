"""Static checks of a Falco rules file, for a machine where Falco cannot run.

What Falco would reject or silently mis-handle at load time, checked without Falco:
- the file's shape (item kinds, required and known keys, priorities);
- each condition's syntax, with a parser for Falco's filter grammar (boolean operators,
  parentheses, comparison/list/unary operators, quoted and bare values, list literals);
- that every macro, list and field a condition or output names exists: defined in the file,
  taken from the default ruleset (recorded in falco_default_names.yaml), or a known field;
- the falcosecurity/rules house style the project follows (order of items and keys, output
  layout, tags, never-true user_* tuning macros).

Beyond this parser, every rule's condition - macros and lists inlined as Falco does - is
compiled by libsinsp, the library Falco's engine is built on, through Debian's `sysdig`
(0.29.3, libsinsp of 2022-03): its filter compiler knows the grammar and the fields.

Falco itself never evaluates these rules here; that needs a cluster (make verify).
"""

from __future__ import annotations

import json
import re
import shutil
import subprocess
import tempfile
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml

ROOT = Path(__file__).resolve().parents[2]
FALCO_DIR = ROOT / "security" / "falco"
RULES_FILE = FALCO_DIR / "rules" / "wordmix_rules.yaml"
DEFAULT_NAMES_FILE = FALCO_DIR / "falco_default_names.yaml"
VALUES_FILE = FALCO_DIR / "values.yaml"

# Item kinds of a Falco rules file, and the keys Falco's loader accepts for each
# (falco.org/docs/concepts/rules/basic-elements, .../overriding).
ITEM_KEYS: dict[str, set[str]] = {
    "required_engine_version": {"required_engine_version"},
    "required_plugin_versions": {"required_plugin_versions"},
    "list": {"list", "items", "append", "override"},
    "macro": {"macro", "condition", "append", "override"},
    "rule": {
        "rule",
        "desc",
        "condition",
        "output",
        "priority",
        "tags",
        "enabled",
        "exceptions",
        "source",
        "append",
        "override",
        "warn_evttypes",
        "skip-if-unknown-filter",
        "capture",
        "capture_duration",
    },
}
REQUIRED_KEYS: dict[str, tuple[str, ...]] = {
    "list": ("list", "items"),
    "macro": ("macro", "condition"),
    "rule": ("rule", "desc", "condition", "output", "priority"),
}
RULE_KEY_ORDER = ("rule", "desc", "condition", "output", "priority", "tags")
PRIORITIES = {
    "emergency",
    "alert",
    "critical",
    "error",
    "warning",
    "notice",
    "informational",
    "info",
    "debug",
}
# Falco filter operators (falco.org/docs/concepts/rules/conditions).
SYMBOL_OPERATORS = {"=", "==", "!=", "<", "<=", ">", ">="}
WORD_OPERATORS = {
    "contains",
    "icontains",
    "bcontains",
    "startswith",
    "bstartswith",
    "endswith",
    "glob",
    "iglob",
    "regex",
}
LIST_OPERATORS = {"in", "intersects", "pmatch"}
UNARY_OPERATORS = {"exists"}
BOOLEAN_WORDS = {"and", "or", "not"}
OPERATOR_WORDS = WORD_OPERATORS | LIST_OPERATORS | UNARY_OPERATORS

# What every wordmix alert must say: where (pod, namespace, image), what and who.
REQUIRED_OUTPUT_FIELDS = (
    "k8s.pod.name",
    "k8s.ns.name",
    "container.image.repository",
    "proc.cmdline",
    "user.name",
)

FIELD_RE = re.compile(r"^[a-z][a-z0-9_]*(\.[a-zA-Z0-9_-]+)+(\[[^\]\s]+\])?$")
NAME_RE = re.compile(r"^[A-Za-z_][A-Za-z0-9_]*$")
OUTPUT_FIELD_RE = re.compile(r"%([a-z][a-z0-9_]*(?:\.[a-zA-Z0-9_-]+)+)(\[[^\]]*\])?")
OUTPUT_PAIR_RE = re.compile(r"^[a-z][a-z0-9_\[\]]*=%[a-z][a-z0-9_.]*(\[[^\]]*\])?$")
# A list item that names another list (snake_case with an underscore), as Falco expands it.
LIST_REFERENCE_RE = re.compile(r"^[a-z][a-z0-9]*(_[a-z0-9]+)+$")


class ConditionError(ValueError):
    """A condition that Falco's filter parser would reject."""


@dataclass
class Token:
    kind: str  # "(", ")", ",", "op", "string", "word"
    text: str
    pos: int


def tokenize(condition: str) -> list[Token]:
    tokens: list[Token] = []
    i, n = 0, len(condition)
    while i < n:
        ch = condition[i]
        if ch.isspace():
            i += 1
        elif ch in "(),":
            tokens.append(Token(ch, ch, i))
            i += 1
        elif ch in "=!<>":
            two = condition[i : i + 2]
            if two in SYMBOL_OPERATORS:
                tokens.append(Token("op", two, i))
                i += 2
            elif ch in SYMBOL_OPERATORS:
                tokens.append(Token("op", ch, i))
                i += 1
            else:
                raise ConditionError(f"unknown operator {ch!r} at {i}")
        elif ch in "\"'":
            j = i + 1
            while j < n and condition[j] != ch:
                j += 2 if condition[j] == "\\" else 1
            if j >= n:
                raise ConditionError(f"unterminated string starting at {i}")
            tokens.append(Token("string", condition[i + 1 : j], i))
            i = j + 1
        else:
            j = i
            while j < n and not condition[j].isspace() and condition[j] not in "(),=!<>\"'":
                j += 1
            tokens.append(Token("word", condition[i:j], i))
            i = j
    return tokens


@dataclass
class ConditionRefs:
    """The names a condition uses, as Falco will resolve them."""

    macros: set[str] = field(default_factory=set)
    fields: set[str] = field(default_factory=set)
    lists: set[str] = field(default_factory=set)
    list_literals: set[str] = field(default_factory=set)
    event_types: set[str] = field(default_factory=set)


class _Parser:
    """Recursive descent over Falco's filter grammar:

    expr    := and ('or' and)*
    and     := not ('and' not)*
    not     := 'not' not | primary
    primary := '(' expr ')' | check | macro-name
    check   := field unary-op | field compare-op value | field list-op '(' [value (',' value)*] ')'
    """

    def __init__(self, condition: str) -> None:
        self.tokens = tokenize(condition)
        self.pos = 0
        self.refs = ConditionRefs()

    def peek(self) -> Token | None:
        return self.tokens[self.pos] if self.pos < len(self.tokens) else None

    def take(self) -> Token:
        tok = self.peek()
        if tok is None:
            raise ConditionError("condition ends too early")
        self.pos += 1
        return tok

    def is_word(self, tok: Token | None, *words: str) -> bool:
        return tok is not None and tok.kind == "word" and tok.text in words

    def parse(self) -> ConditionRefs:
        if not self.tokens:
            raise ConditionError("empty condition")
        self.expr()
        tok = self.peek()
        if tok is not None:
            raise ConditionError(f"unexpected {tok.text!r} at {tok.pos} (unbalanced parentheses?)")
        return self.refs

    def expr(self) -> None:
        self.conjunction()
        while self.is_word(self.peek(), "or"):
            self.take()
            self.conjunction()

    def conjunction(self) -> None:
        self.negation()
        while self.is_word(self.peek(), "and"):
            self.take()
            self.negation()

    def negation(self) -> None:
        if self.is_word(self.peek(), "not"):
            self.take()
            self.negation()
        else:
            self.primary()

    def primary(self) -> None:
        tok = self.take()
        if tok.kind == "(":
            self.expr()
            close = self.take()
            if close.kind != ")":
                raise ConditionError(f"expected ')' at {close.pos}, found {close.text!r}")
            return
        if tok.kind != "word" or tok.text in BOOLEAN_WORDS | OPERATOR_WORDS:
            raise ConditionError(f"unexpected {tok.text!r} at {tok.pos}")
        nxt = self.peek()
        starts_check = nxt is not None and (
            nxt.kind == "op" or (nxt.kind == "word" and nxt.text not in BOOLEAN_WORDS)
        )
        if not starts_check:
            if not NAME_RE.match(tok.text):
                raise ConditionError(f"{tok.text!r} at {tok.pos} is neither a check nor a macro")
            self.refs.macros.add(tok.text)
            return
        if not FIELD_RE.match(tok.text):
            raise ConditionError(f"{tok.text!r} at {tok.pos} is not a field name")
        self.refs.fields.add(tok.text.split("[", 1)[0])
        self.check_operator(tok.text)

    def check_operator(self, field_name: str) -> None:
        op = self.take()
        if op.kind == "op":
            value = self.value()
            if field_name == "evt.type":
                self.refs.event_types.add(value)
        elif op.kind == "word" and op.text in UNARY_OPERATORS:
            return
        elif op.kind == "word" and op.text in WORD_OPERATORS:
            self.value()
        elif op.kind == "word" and op.text in LIST_OPERATORS:
            self.list_literal(event_types=field_name == "evt.type")
        else:
            raise ConditionError(f"unknown operator {op.text!r} at {op.pos}")

    def value(self) -> str:
        tok = self.take()
        # `evt.dir=<`: the direction markers are values, not operators, after an operator.
        if tok.kind == "op" and tok.text in {"<", ">"}:
            return tok.text
        if tok.kind == "string" or (tok.kind == "word" and tok.text not in BOOLEAN_WORDS):
            return tok.text
        raise ConditionError(f"expected a value at {tok.pos}, found {tok.text!r}")

    def list_literal(self, event_types: bool = False) -> None:
        opening = self.take()
        if opening.kind != "(":
            raise ConditionError(f"expected '(' after a list operator at {opening.pos}")
        if self.peek() is not None and self.peek().kind == ")":
            self.take()
            return
        while True:
            item = self.take()
            if item.kind not in {"word", "string"}:
                raise ConditionError(f"unexpected {item.text!r} in a list at {item.pos}")
            if event_types:
                self.refs.event_types.add(item.text)
            elif item.kind == "word":
                self.refs.lists.add(item.text)
            else:
                self.refs.list_literals.add(item.text)
            sep = self.take()
            if sep.kind == ")":
                return
            if sep.kind != ",":
                raise ConditionError(f"expected ',' or ')' in a list at {sep.pos}")


def parse_condition(condition: str) -> ConditionRefs:
    """Parse a Falco condition; raise ConditionError if Falco's parser would reject it."""
    return _Parser(condition).parse()


def output_fields(output: str) -> set[str]:
    return {m.group(1) for m in OUTPUT_FIELD_RE.finditer(output)}


def load_yaml(path: Path) -> Any:
    return yaml.safe_load(path.read_text())


@dataclass
class DefaultNames:
    macros: dict[str, str]  # name -> condition in the default ruleset
    lists: set[str]
    fields: set[str]
    event_types: set[str]
    stand_ins: dict[str, str]  # field too new for Debian's libsinsp -> same-typed stand-in


def load_default_names(path: Path = DEFAULT_NAMES_FILE) -> DefaultNames:
    data = load_yaml(path)
    ruleset = data["default_ruleset"]
    return DefaultNames(
        macros=dict(ruleset["macros"]),
        lists=set(ruleset["lists"]),
        fields=set(data["fields"]),
        event_types=set(data["event_types"]),
        stand_ins={k: v["stand_in"] for k, v in data["libsinsp_newer_than_debian"].items()},
    )


@dataclass
class _Scope:
    """What a condition may name at a point of the file, and what has been used so far."""

    names: DefaultNames
    macros: set[str] = field(default_factory=set)
    lists: set[str] = field(default_factory=set)
    used: set[str] = field(default_factory=set)

    def knows_macro(self, name: str) -> bool:
        return self._use(name, name in self.macros or name in self.names.macros)

    def knows_list(self, name: str) -> bool:
        return self._use(name, name in self.lists or name in self.names.lists)

    def _use(self, name: str, known: bool) -> bool:
        if known:
            self.used.add(name)
        return known


def item_kind(item: Any) -> str | None:
    if not isinstance(item, dict):
        return None
    kinds = [key for key in ITEM_KEYS if key in item]
    return kinds[0] if len(kinds) == 1 else None


def check_rules(items: Any, names: DefaultNames) -> list[str]:
    """Every problem found in a loaded rules file; an empty list means it passes."""
    if not isinstance(items, list) or not items:
        return ["a rules file is a non-empty YAML list"]
    errors: list[str] = []
    scope = _Scope(names)
    negated_user_macros: set[str] = set()
    seen_kinds: list[str] = []
    order = {"required_engine_version": 0, "list": 1, "macro": 2, "rule": 3}

    for index, item in enumerate(items):
        kind = item_kind(item)
        if kind is None:
            errors.append(f"item {index}: not exactly one of {sorted(ITEM_KEYS)}: {item!r}")
            continue
        label = f"{kind} {item[kind]!r}"
        unknown = set(item) - ITEM_KEYS[kind]
        if unknown:
            errors.append(f"{label}: unknown keys {sorted(unknown)}")
        missing = [key for key in REQUIRED_KEYS.get(kind, ()) if key not in item]
        if missing:
            errors.append(f"{label}: missing required keys {missing}")
        if seen_kinds and order.get(kind, 9) < order.get(seen_kinds[-1], 9):
            errors.append(f"{label}: comes after a {seen_kinds[-1]} (order: lists, macros, rules)")
        seen_kinds.append(kind)

        if kind == "required_engine_version" and index != 0:
            errors.append("required_engine_version must be the first item")
        elif kind == "list":
            errors += _check_list(item, label, scope)
            scope.lists.add(item["list"])
        elif kind == "macro":
            errors += _check_condition(item.get("condition"), label, scope)
            name = item["macro"]
            if name.startswith("user_") and str(item.get("condition", "")).strip() != (
                "(never_true)"
            ):
                errors.append(f"{label}: a user_* tuning macro must default to (never_true)")
            scope.macros.add(name)
        elif kind == "rule":
            errors += _check_rule(item, label, scope)
            negated_user_macros |= set(
                re.findall(r"\bnot\s+(user_\w+)", str(item.get("condition", "")))
            )

    if seen_kinds[:1] != ["required_engine_version"]:
        errors.append("the file must start with required_engine_version")
    for name in sorted((scope.lists | scope.macros) - scope.used):
        errors.append(f"{name!r} is defined but never used")
    for name in sorted(m for m in scope.macros if m.startswith("user_")):
        if name not in negated_user_macros:
            errors.append(f"tuning macro {name!r} is not used as `and not {name}` in a rule")
    return errors


def _check_list(item: dict[str, Any], label: str, scope: _Scope) -> list[str]:
    errors: list[str] = []
    if not NAME_RE.match(str(item["list"])):
        errors.append(f"{label}: not a valid name")
    values = item.get("items")
    if not isinstance(values, list):
        return [*errors, f"{label}: items must be a YAML list"]
    for value in values:
        names_a_list = isinstance(value, str) and LIST_REFERENCE_RE.match(value)
        if names_a_list and not scope.knows_list(value):
            errors.append(f"{label}: item {value!r} names no known list")
    return errors


def _check_condition(condition: Any, label: str, scope: _Scope) -> list[str]:
    if not isinstance(condition, str):
        return [f"{label}: condition must be a string"]
    try:
        refs = parse_condition(condition)
    except ConditionError as exc:
        return [f"{label}: condition does not parse: {exc}"]
    errors: list[str] = []
    for macro in sorted(refs.macros):
        if not scope.knows_macro(macro):
            errors.append(
                f"{label}: unknown macro {macro!r} (define it above, or list it in "
                f"{DEFAULT_NAMES_FILE.name} if the default ruleset has it)"
            )
    # House rule: values in `in (...)`/`pmatch (...)` live in named lists, never inline, so
    # every bare item here must be a list and a typo in its name cannot pass as a value
    # (evt.type's system call names excepted, checked below).
    for name in sorted(refs.lists):
        if not scope.knows_list(name):
            errors.append(f"{label}: unknown list {name!r}")
    for literal in sorted(refs.list_literals):
        errors.append(f"{label}: inline list value {literal!r}; put values in a named list")
    # `evt.type in (...)` holds system call names, which Falco checks against its event table.
    for event in sorted(refs.event_types - scope.names.event_types):
        errors.append(f"{label}: unknown event type {event!r}")
    for fld in sorted(refs.fields - scope.names.fields):
        errors.append(f"{label}: unknown field {fld!r} (not in {DEFAULT_NAMES_FILE.name})")
    return errors


def _check_rule(item: dict[str, Any], label: str, scope: _Scope) -> list[str]:
    errors = _check_condition(item.get("condition"), label, scope)
    present = [key for key in item if key in RULE_KEY_ORDER]
    if present != [key for key in RULE_KEY_ORDER if key in item]:
        errors.append(f"{label}: keys out of order {present}, expected {list(RULE_KEY_ORDER)}")
    priority = item.get("priority")
    if not isinstance(priority, str) or priority.lower() not in PRIORITIES:
        errors.append(f"{label}: priority {priority!r} is not one of {sorted(PRIORITIES)}")
    if not isinstance(item.get("desc"), str) or not item["desc"].strip():
        errors.append(f"{label}: desc must be a non-empty string")

    output = item.get("output")
    if not isinstance(output, str):
        return [*errors, f"{label}: output must be a string"]
    sentence, bar, pairs = output.partition(" | ")
    if not bar or not sentence.strip() or "%" in sentence:
        errors.append(f"{label}: output must be a sentence, then ' | ', then key=%field pairs")
    elif not all(OUTPUT_PAIR_RE.match(pair) for pair in pairs.split()):
        bad = [pair for pair in pairs.split() if not OUTPUT_PAIR_RE.match(pair)]
        errors.append(f"{label}: output pairs not in key=%field form: {bad}")
    fields_out = output_fields(output)
    for fld in sorted(fields_out - scope.names.fields):
        errors.append(f"{label}: output names unknown field {fld!r}")
    for fld in REQUIRED_OUTPUT_FIELDS:
        if fld not in fields_out:
            errors.append(f"{label}: output must include %{fld}")

    tags = item.get("tags")
    if not isinstance(tags, list) or not all(isinstance(tag, str) for tag in tags):
        errors.append(f"{label}: tags must be a list of strings")
    else:
        if not any(tag.startswith("maturity_") for tag in tags):
            errors.append(f"{label}: tags need a maturity_* level")
        if "container" not in tags:
            errors.append(f"{label}: tags need the `container` scope")
        if not any(tag.startswith("mitre_") for tag in tags):
            errors.append(f"{label}: tags need a MITRE ATT&CK tactic (mitre_*)")
    return errors


def chart_rules_configmap(values: dict[str, Any], release: str = "falco") -> str:
    """Render what the falco chart's templates/rules-configmap.yaml makes of customRules.

    Reproduces falcosecurity/charts charts/falco/templates/rules-configmap.yaml (chart 9.x):
    `{{- range $file, $content := .Values.customRules }}` then `  {{ $file }}: |-` and
    `{{ $content | indent 4 }}`, under a ConfigMap named `{{ falco.fullname }}-rules` (fullname
    is the release name when it contains the chart name "falco"). Helm ranges over a map in
    sorted key order. The chart mounts this ConfigMap at /etc/falco/rules.d
    (templates/pod-template.tpl, volume rules-volume).
    """
    custom = values.get("customRules")
    if not custom:
        raise ValueError("customRules is empty: the chart renders no rules ConfigMap")
    if not isinstance(custom, dict):
        raise ValueError("customRules must be a map of file name to rules text")
    fullname = release if "falco" in release else f"{release}-falco"
    lines = [
        "apiVersion: v1",
        "kind: ConfigMap",
        "metadata:",
        f"  name: {fullname}-rules",
        "data:",
    ]
    for name in sorted(custom):
        content = str(custom[name])
        lines.append(f"  {name}: |-")
        # sprig's indent prefixes every line, empty ones included.
        lines.extend("    " + line for line in content.split("\n"))
    return "\n".join(lines) + "\n"


# A name as Falco's rule loader sees it: not part of a field (a.b), a path or an option.
_NAME_TOKEN = re.compile(r"(?<![\w.\-/%])[A-Za-z_][A-Za-z0-9_]*(?![\w.\-/])")
_BARE_ITEM = re.compile(r"^[\w./:+\-]+$")


def expand_condition(condition: str, macros: dict[str, str], lists: dict[str, list[Any]]) -> str:
    """Inline macros (parenthesised) and list items into a condition, as Falco does before it
    compiles a rule. Names defined in neither mapping are left as they are."""

    def item(value: Any) -> str:
        text = str(value)
        return text if _BARE_ITEM.match(text) else json.dumps(text)

    def replace(match: re.Match[str]) -> str:
        name = match.group(0)
        if name in macros:
            return f"({macros[name]})"
        if name in lists:
            return ", ".join(item(value) for value in lists[name])
        return name

    text = condition
    for _ in range(32):
        expanded = _NAME_TOKEN.sub(replace, text)
        if expanded == text:
            return " ".join(expanded.split())
        text = expanded
    raise ValueError("macros nest more than 32 deep: is there a cycle?")


def rule_filters(items: list[dict[str, Any]], names: DefaultNames) -> dict[str, str]:
    """Each rule's condition with every macro and list of the file (and the default ruleset's
    macros) inlined: the filter Falco hands to libsinsp."""
    macros = dict(names.macros)
    lists: dict[str, list[Any]] = {}
    filters: dict[str, str] = {}
    for entry in items:
        if "list" in entry:
            lists[entry["list"]] = list(entry["items"])
        elif "macro" in entry:
            macros[entry["macro"]] = entry["condition"]
        elif "rule" in entry:
            filters[entry["rule"]] = expand_condition(entry["condition"], macros, lists)
    return filters


SYSDIG_HINT = (
    "sysdig is needed to compile Falco conditions with libsinsp: "
    "apt-get install --no-install-recommends sysdig"
)


def sysdig() -> str:
    path = shutil.which("sysdig")
    if path is None:
        raise AssertionError(SYSDIG_HINT)
    return path


def libsinsp_fields() -> set[str]:
    """The field names Debian's libsinsp knows (`sysdig -l`)."""
    out = subprocess.run(
        [sysdig(), "-l"], capture_output=True, text=True, check=True, timeout=60
    ).stdout
    return set(re.findall(r"(?m)^([a-z][a-z0-9_]*(?:\.[a-zA-Z0-9_]+)+)", out))


def libsinsp_filter_error(filter_text: str, stand_ins: dict[str, str]) -> str | None:
    """Compile a filter with libsinsp; return its error, or None if it compiles.

    sysdig compiles the filter before it opens the capture, so pointing it at a file that does
    not exist compiles without reading any event: "filter error ..." or "can't open file".
    """
    for new, old in stand_ins.items():
        filter_text = re.sub(rf"(?<![\w.]){re.escape(new)}(?![\w.])", old, filter_text)
    with tempfile.TemporaryDirectory() as tmp:
        capture = Path(tmp) / "no-such-capture.scap"
        result = subprocess.run(
            [sysdig(), "-r", str(capture), filter_text],
            capture_output=True,
            text=True,
            check=False,
            timeout=60,
        )
    output = result.stdout + result.stderr
    if "filter error" in output:
        return output.strip()
    if "can't open file" in output:
        return None
    raise AssertionError(f"unexpected sysdig output (exit {result.returncode}):\n{output}")


# --- the API server's audit policy (security/falco/k8s-audit) ------------------------------------

AUDIT_DIR = FALCO_DIR / "k8s-audit"
AUDIT_LEVELS = ("None", "Metadata", "Request", "RequestResponse")


@dataclass(frozen=True)
class AuditRequest:
    """One request to the API server, as an audit policy rule sees it."""

    verb: str
    resource: str = ""  # "pods", or "pods/exec" for a subresource; "" for a non-resource URL
    group: str = ""
    namespace: str = ""
    name: str = ""
    user: str = "alice"
    groups: tuple[str, ...] = ("system:authenticated",)
    path: str = ""  # the URL of a non-resource request


def _resource_matches(patterns: list[str], resource: str) -> bool:
    base, _, sub = resource.partition("/")
    for pattern in patterns:
        if pattern in ("*", resource):
            return True
        p_base, _, p_sub = pattern.partition("/")
        if sub and ((p_base == "*" and p_sub == sub) or (p_base == base and p_sub == "*")):
            return True
    return False


def _audit_rule_matches(rule: dict[str, Any], req: AuditRequest) -> bool:
    """The API server's policy matching (k8s.io/apiserver/pkg/audit/policy/checker.go)."""
    if rule.get("users") and req.user not in rule["users"]:
        return False
    if rule.get("userGroups") and not set(rule["userGroups"]) & set(req.groups):
        return False
    if rule.get("verbs") and req.verb not in rule["verbs"]:
        return False
    if "resources" not in rule and "nonResourceURLs" not in rule:
        return True
    if not req.resource:
        return any(
            url == req.path or (url.endswith("*") and req.path.startswith(url[:-1]))
            for url in rule.get("nonResourceURLs", [])
        )
    if "resources" not in rule:
        return False
    if rule.get("namespaces") and req.namespace not in rule["namespaces"]:
        return False
    for group in rule["resources"]:
        if group.get("group", "") != req.group:
            continue
        names = group.get("resourceNames")
        if names and req.name not in names:
            continue
        if not group.get("resources") or _resource_matches(group["resources"], req.resource):
            return True
    return False


def audit_level(policy: dict[str, Any], req: AuditRequest) -> str:
    """The level the first matching rule gives a request ("None" when no rule matches)."""
    for rule in policy["rules"]:
        if _audit_rule_matches(rule, req):
            return rule["level"]
    return "None"
