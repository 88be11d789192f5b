# shellcheck shell=bash
# shellcheck source=tests/docs/lib.sh
source "$REPO/tests/docs/lib.sh"
superloop_evidence status.json handoff.jsonl drills.json
cp "$REPO/examples/demo/registry.v1.json" .
