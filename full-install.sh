#!/usr/bin/env bash
# One line, as in the original: build the images and install the app with its whole security
# stack on the current kube context. It is `make deploy`; see scripts/deploy.sh for the options
# (DRY_RUN=1, CLUSTER_KIND, REGISTRY, KUBEARMOR=1, ...), then run `make verify`.
exec "$(dirname "${BASH_SOURCE[0]}")/scripts/deploy.sh" deploy "$@"
