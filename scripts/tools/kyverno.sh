#!/usr/bin/env bash
# Prints the path of the Kyverno CLI at the pinned KYVERNO_VERSION, building it first when the
# cache lacks it. Usage: KYVERNO="$(scripts/tools/kyverno.sh)"; "$KYVERNO" test security/kyverno
# Kyverno's go.mod has `replace` directives, so it is built from a copy of the module source.
set -euo pipefail
. "$(dirname "${BASH_SOURCE[0]}")/lib.sh"

build_module_command kyverno "$KYVERNO_VERSION" github.com/kyverno/kyverno "$KYVERNO_VERSION" \
  cmd/cli/kubectl-kyverno \
  "-s -w -X github.com/kyverno/kyverno/pkg/version.BuildVersion=$KYVERNO_VERSION"
