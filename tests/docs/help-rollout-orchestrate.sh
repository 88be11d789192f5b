# shellcheck shell=bash
# shellcheck source=tests/docs/lib.sh
source "$REPO/tests/docs/lib.sh"
promoting_gates
cp "$REPO/examples/demo/health.json" "$REPO/examples/demo/registry.v1.json" .
start_health_server
example_env RUNTIME_HEALTH_URLS "$health_base/healthz"
# kubectl: a stand-in that says what it was asked
mkdir -p bin
printf '#!/bin/sh\necho "kubectl $*"\n' > bin/kubectl
chmod +x bin/kubectl
example_env PATH "$PWD/bin:$PATH"
