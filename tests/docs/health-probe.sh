# shellcheck shell=bash
# shellcheck source=tests/docs/lib.sh
source "$REPO/tests/docs/lib.sh"
start_health_server
example_env RUNTIME_HEALTH_URLS "$health_base/healthz,$health_base/flaky/warmup"
substitute "--url https://payments.internal/healthz" "--url $health_base/healthz"
