# shellcheck shell=bash
# shellcheck source=tests/docs/lib.sh
source "$REPO/tests/docs/lib.sh"
promoting_gates
# the canary at 35%, as after the policy-apply example
jq '.policy.autonomous.rollout.canaryPercent = 35' "$REPO/examples/demo/registry.v1.json" > registry.v1.json
start_health_server
example_env RUNTIME_HEALTH_URLS "$health_base/healthz,$health_base/status/503"
substitute https://payments.internal "$health_base"
example_env RUNTIME_ROLLBACK_COMMAND "echo kubectl rollout undo deploy/payments-api"
# the trace id a CI run would pass (ROLLOUT_TRACE_ID), shown in the summary
example_env ROLLOUT_TRACE_ID rollout-42
