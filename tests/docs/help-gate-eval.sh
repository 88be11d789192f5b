# shellcheck shell=bash
# shellcheck source=tests/docs/lib.sh
source "$REPO/tests/docs/lib.sh"
superloop_evidence fleet-status.json telemetry/handoff.jsonl drills/promotion.v1.json
promoting_gates
start_health_server
example_env RUNTIME_HEALTH_URLS "$health_base/healthz"
