# shellcheck shell=bash
# shellcheck source=tests/docs/lib.sh
source "$REPO/tests/docs/lib.sh"
promoting_gates
cp "$REPO/examples/demo/registry.v1.json" .
