# wordmix — every command the README documents is a target here; CI calls the same targets.
SHELL := /bin/bash
.DEFAULT_GOAL := help

# Prefer the Python the images ship (Debian trixie: 3.13); fall back to any python3 >= 3.11.
PYTHON ?= $(shell for p in python3.13 $(HOME)/.pyenv/versions/3.13*/bin/python3.13 python3; do \
	"$$p" -c 'import sys; sys.exit(sys.version_info < (3, 11))' >/dev/null 2>&1 && { echo "$$p"; break; }; done)
VENV := .venv
PY := $(VENV)/bin/python
PYTEST := $(VENV)/bin/pytest
VERSION ?= $(shell git describe --tags --always --dirty 2>/dev/null || echo dev)
export VERSION

.PHONY: help venv run test test-app test-app-postgres test-images test-deploy test-security \
	test-bench audit lint format lock images bench deploy verify undeploy admin clean cluster-up \
	cluster-down e2e

help: ## list the targets
	@grep -hE '^[a-z-]+:.*## ' $(MAKEFILE_LIST) | awk -F':.*## ' '{printf "  make %-18s %s\n", $$1, $$2}'

venv: $(VENV)/.installed ## create .venv from the hashed lock file
$(VENV)/.installed: requirements/dev.txt
	@test -n "$(PYTHON)" || { echo "Python 3.11+ is needed (python3.13 preferred)"; exit 1; }
	@test -x $(PY) || $(PYTHON) -m venv $(VENV)
	$(PY) -m pip install -q --require-hashes --no-deps -r requirements/dev.txt
	@touch $@

lock: venv ## re-resolve requirements/*.txt from pyproject.toml
	$(VENV)/bin/uv pip compile pyproject.toml --universal --python-version 3.11 --generate-hashes -q -o requirements/base.txt
	$(VENV)/bin/uv pip compile pyproject.toml --group dev --universal --python-version 3.11 --generate-hashes -q -o requirements/dev.txt
	$(VENV)/bin/uv pip compile pyproject.toml --group audit --universal --python-version 3.11 --generate-hashes -q -o requirements/audit.txt

run: venv ## run the three services on SQLite in the foreground (8000, 8001, 8002)
	$(PY) scripts/run_local.py

# Every shell script of the repository (.ci/run has no .sh suffix).
SHELL_SCRIPTS = $(shell git ls-files '*.sh' 2>/dev/null || find . -name '*.sh' -not -path './.venv*') .ci/run

lint: venv ## ruff lint and format check, mypy, shellcheck (.pre-commit-config.yaml runs the same)
	$(VENV)/bin/ruff check .
	$(VENV)/bin/ruff format --check .
	$(VENV)/bin/mypy
	@command -v shellcheck >/dev/null || { echo "shellcheck is missing: apt-get install shellcheck"; exit 1; }
	shellcheck -x --source-path=SCRIPTDIR $(SHELL_SCRIPTS)

format: venv
	$(VENV)/bin/ruff check --fix .
	$(VENV)/bin/ruff format .

test: venv ## the whole suite, part by part (scripts/test_all.py: every part runs, then a summary)
	$(PY) scripts/test_all.py

test-app: venv ## the app's tests on SQLite (or on DATABASE_URL when set)
	$(PYTEST) tests/app

test-app-postgres: venv ## the app's tests on a throwaway PostgreSQL server
	scripts/with-postgres.sh $(PYTEST) tests/app -m 'not browser'

test-images: venv ## build the three images and run them hardened (podman or docker)
	$(PYTEST) tests/images

test-deploy: venv ## render and validate every overlay of deploy/, dry-run the install
	$(PYTEST) tests/deploy

test-security: venv ## run Kyverno, istioctl and the Falco/KubeArmor checks over security/
	$(PYTEST) tests/security

test-bench: venv ## the benchmark's smoke run (no timing asserted)
	$(PYTEST) tests/bench

audit: venv ## the app's own security: fuzzing, bad-input corpus, pip-audit, bandit, checkov
	scripts/audit.sh

images: ## build wordmix-verbs, wordmix-nouns, wordmix-aggregator
	scripts/build-images.sh

bench: venv ## load-test the aggregator (writes var/bench.json and var/bench.png)
	$(PY) scripts/bench.py

deploy: ## install the security stack and the app on the current kube context
	scripts/deploy.sh deploy

verify: ## prove each security layer on the live cluster
	scripts/deploy.sh verify

undeploy: ## remove the app (and, with STACK=1, the security stack)
	scripts/deploy.sh undeploy

admin: ## port-forward the two admins from the cluster (8001, 8002)
	scripts/deploy.sh admin

cluster-up: venv ## start a one-node Kubernetes here (builds it from the Go module proxy first)
	scripts/cluster/node.sh up

cluster-down: ## stop the local node and remove everything it made
	scripts/cluster/node.sh down

e2e: venv ## live: cluster-up, deploy, verify, deploy again, the checks, undeploy, cluster-down
	@# The node goes down even when pytest itself is killed.
	$(PYTEST) tests/e2e; status=$$?; scripts/cluster/node.sh down; exit $$status

clean:
	rm -rf var .pytest_cache
