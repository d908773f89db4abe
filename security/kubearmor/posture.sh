#!/usr/bin/env bash
# Switch the wordmix process allow-lists (allow-processes.yaml) between Audit and Block.
#
#   security/kubearmor/posture.sh audit   # unlisted programs run, KubeArmor reports them (default)
#   security/kubearmor/posture.sh block   # unlisted programs are denied
#   security/kubearmor/posture.sh show    # print the namespace's current posture
#
# KubeArmor applies an `action: Allow` policy as a white list and treats everything else by the
# namespace's default posture, read from the annotation kubearmor-file-posture (process
# execution falls under the file posture). The deny-list policies are not affected: they block
# or audit by their own `action`. Environment: KUBECTL (default: kubectl), NAMESPACE (app).
set -euo pipefail

KUBECTL="${KUBECTL:-kubectl}"
NAMESPACE="${NAMESPACE:-app}"
ANNOTATION=kubearmor-file-posture

usage() { echo "usage: $0 audit|block|show" >&2; exit 2; }

[ $# -eq 1 ] || usage
command -v "$KUBECTL" >/dev/null 2>&1 ||
  { echo "posture.sh: $KUBECTL not found; install kubectl (make venv brings .venv/bin/kubectl)" >&2; exit 1; }

case "$1" in
  audit | block)
    "$KUBECTL" annotate namespace "$NAMESPACE" "$ANNOTATION=$1" --overwrite
    ;;
  show)
    "$KUBECTL" get namespace "$NAMESPACE" -o "jsonpath={.metadata.annotations.${ANNOTATION}}{\"\n\"}"
    ;;
  *)
    usage
    ;;
esac
