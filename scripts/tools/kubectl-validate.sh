#!/usr/bin/env bash
# Prints the path of kubectl-validate (sigs.k8s.io/kubectl-validate) at the pinned
# KUBECTL_VALIDATE_VERSION, building it from the Go module proxy first when the cache lacks it.
# tests/deploy runs it offline: the Kubernetes schemas and the CRDs are given as directories
# (--local-schemas, --local-crds), and --version= with no kubeconfig keeps it from asking a
# cluster or GitHub. Usage: KV="$(scripts/tools/kubectl-validate.sh)"; "$KV" --help
set -euo pipefail
# shellcheck source=lib.sh
. "$(dirname "${BASH_SOURCE[0]}")/lib.sh"

build_module_command kubectl-validate "${KUBECTL_VALIDATE_VERSION:?missing from deploy/versions.env}" \
  sigs.k8s.io/kubectl-validate "$KUBECTL_VALIDATE_VERSION" . "-s -w"
