#!/usr/bin/env bash
# make audit: the app's own security checks, each failing the build when it finds something.
#
#   scripts/audit.sh            every check below, then a summary; exit 1 if any failed
#   scripts/audit.sh venv       only create/update .venv-audit (the test suite calls this)
#   scripts/audit.sh pip-audit|bandit|checkov|tests   one check
#
# The scanners live in their own virtualenv, .venv-audit, installed with --require-hashes
# from requirements/audit.txt (the `audit` group of pyproject.toml): checkov pins many
# libraries that would clash with the dev tools in .venv.
set -euo pipefail

ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$ROOT"
AUDIT_VENV="$ROOT/.venv-audit"
LOCK="requirements/audit.txt"
NOT_RUN=()

say() { printf '\n[audit] %s\n' "$*" >&2; }
die() { printf '[audit] error: %s\n' "$*" >&2; exit 1; }

# The same preference as the Makefile: the images' Python (3.13), else any python3 >= 3.11.
find_python() {
  local p
  for p in ${PYTHON:-} python3.13 "$HOME"/.pyenv/versions/3.13*/bin/python3.13 python3; do
    if "$p" -c 'import sys; sys.exit(sys.version_info < (3, 11))' >/dev/null 2>&1; then
      printf '%s\n' "$p"
      return 0
    fi
  done
  die "Python 3.11+ is needed to create $AUDIT_VENV (python3.13 preferred)"
}

ensure_venv() {
  local want have=""
  want="$(sha256sum "$LOCK" | cut -d' ' -f1)"
  [[ -f $AUDIT_VENV/.installed ]] && have="$(cat "$AUDIT_VENV/.installed")"
  [[ $want == "$have" && -x $AUDIT_VENV/bin/checkov ]] && return 0
  # Two test processes asking at once must not install into the same place twice.
  mkdir -p "$ROOT/var"
  exec {lock_fd}>"$ROOT/var/.venv-audit.lock"
  flock "$lock_fd"
  [[ -f $AUDIT_VENV/.installed ]] && have="$(cat "$AUDIT_VENV/.installed")"
  if [[ $want != "$have" || ! -x $AUDIT_VENV/bin/checkov ]]; then
    say "installing the audit tools into $AUDIT_VENV from $LOCK (a minute or two)"
    rm -rf "$AUDIT_VENV"
    "$(find_python)" -m venv "$AUDIT_VENV"
    # A venv made by Python < 3.13 has no .gitignore of its own; ruff and git must skip it.
    [[ -f $AUDIT_VENV/.gitignore ]] || printf '*\n' >"$AUDIT_VENV/.gitignore"
    "$AUDIT_VENV/bin/python" -m pip install -q --require-hashes --no-deps -r "$LOCK"
    printf '%s\n' "$want" >"$AUDIT_VENV/.installed"
  fi
  flock -u "$lock_fd"
}

# Known vulnerabilities in every locked dependency (runtime, dev and these audit tools).
# The lock files are complete and hashed, so pip-audit checks them as they are (--no-deps)
# instead of resolving again. The vulnerability data comes from osv.dev, or else from PyPI's
# per-release JSON API; a network that reaches neither (some package proxies pass only
# pip's own index) cannot audit, and says so: the check fails unless
# WORDMIX_AUDIT_ALLOW_NO_VULN_DB=1 accepts, loudly, that the dependencies were not audited.
check_pip_audit() {
  local lock service status=0
  service="$(vulnerability_service)" || {
    say "pip-audit: NO VULNERABILITY DATABASE REACHABLE from here (api.osv.dev and pypi.org/pypi/<name>/<version>/json both failed): the dependencies were NOT audited"
    if [[ ${WORDMIX_AUDIT_ALLOW_NO_VULN_DB:-0} == 1 ]]; then
      NOT_RUN+=("pip-audit")
      return 0
    fi
    say "run 'make audit' where osv.dev or pypi.org's JSON API is reachable, or set WORDMIX_AUDIT_ALLOW_NO_VULN_DB=1 to accept this"
    return 1
  }
  for lock in requirements/base.txt requirements/dev.txt "$LOCK"; do
    say "pip-audit $lock (vulnerability data: $service)"
    "$AUDIT_VENV/bin/pip-audit" --requirement "$lock" --require-hashes --disable-pip \
      --vulnerability-service "$service" --progress-spinner off --strict ||
      status=1
  done
  return "$status"
}

# Prints the first vulnerability service that answers a known query: osv, else pypi.
vulnerability_service() {
  "$AUDIT_VENV/bin/python" - <<'PY'
import json
import sys
import urllib.request

probes = {
    "osv": urllib.request.Request(
        "https://api.osv.dev/v1/query",
        data=json.dumps({"package": {"name": "django", "ecosystem": "PyPI"}, "version": "5.2"}).encode(),
        headers={"Content-Type": "application/json"},
    ),
    "pypi": urllib.request.Request("https://pypi.org/pypi/django/5.2/json"),
}
for name, request in probes.items():
    try:
        with urllib.request.urlopen(request, timeout=10) as response:  # noqa: S310
            json.load(response)
    except Exception:  # noqa: BLE001, S112 - any failure means: not usable from here
        continue
    print(name)
    sys.exit(0)
sys.exit(1)
PY
}

# Our Python, nothing above low severity; each accepted finding is marked `# nosec BXXX`
# with its reason where it occurs.
check_bandit() {
  say "bandit over wordmix verbs nouns aggregator scripts"
  "$AUDIT_VENV/bin/bandit" -r wordmix verbs nouns aggregator scripts manage.py serve.py \
    --severity-level medium --quiet --exclude '*/migrations/*'
}

# The Dockerfile, compose.yaml and every overlay of deploy/ as kustomize renders it. Skips
# are `checkov:skip=CKV_...:reason` comments next to what they skip, nowhere else.
check_checkov() {
  local out overlay status=0
  out="$(mktemp -d)"
  for overlay in deploy/overlays/*/; do
    overlay="$(basename "$overlay")"
    "$ROOT/.venv/bin/kubectl" kustomize "deploy/overlays/$overlay" >"$out/$overlay.yaml" ||
      die "kubectl kustomize deploy/overlays/$overlay failed (make venv installs kubectl)"
  done
  say "checkov over Dockerfile"
  checkov_run --framework dockerfile --file Dockerfile || status=1
  # checkov has no Docker Compose policies: of compose.yaml it checks what it can, that no
  # secret is written in it. (Its hardening - read-only root, no capabilities, non-root
  # user - is proven by running it: tests/images.)
  say "checkov over compose.yaml (secrets scan)"
  checkov_run --framework secrets --enable-secret-scan-all-files --file compose.yaml || status=1
  for overlay in "$out"/*.yaml; do
    say "checkov over deploy/overlays/$(basename "$overlay" .yaml) (rendered)"
    checkov_run --framework kubernetes --file "$overlay" || status=1
  done
  rm -rf "$out"
  return "$status"
}

checkov_run() {
  # No network: no Bridgecrew platform, no version check, no module downloads.
  BC_SKIP_MAPPING=TRUE CHECKOV_RUN_SCA_PACKAGE_SCAN_V2=false \
    "$AUDIT_VENV/bin/checkov" --quiet --compact --skip-download \
    --output cli "$@"
}

# The fuzzing (schemathesis against the three running services) and the bad-input corpus
# are pytest tests, so their counts show in pytest's summary.
check_tests() {
  say "pytest tests/audit (schemathesis fuzzing and the bad-input corpus)"
  "$ROOT/.venv/bin/pytest" tests/audit -q
}

main() {
  local what=${1:-all}
  [[ -x $ROOT/.venv/bin/python ]] || die "run 'make venv' first"
  ensure_venv
  case $what in
    venv) return 0 ;;
    pip-audit) check_pip_audit ;;
    bandit) check_bandit ;;
    checkov) check_checkov ;;
    tests) check_tests ;;
    all)
      local check failed=() passed=()
      for check in pip-audit bandit checkov tests; do
        if ! "check_${check//-/_}"; then
          failed+=("$check")
        elif [[ " ${NOT_RUN[*]} " != *" $check "* ]]; then
          passed+=("$check")
        fi
      done
      for check in "${NOT_RUN[@]}"; do
        say "NOT RUN here: $check — no vulnerability database reachable (accepted by WORDMIX_AUDIT_ALLOW_NO_VULN_DB=1)"
      done
      if ((${#failed[@]})); then
        say "FAILED: ${failed[*]}"
        return 1
      fi
      say "passed: ${passed[*]}"
      ;;
    *) die "unknown check '$what' (venv, pip-audit, bandit, checkov, tests, all)" ;;
  esac
}

main "$@"
