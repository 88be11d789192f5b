# shellcheck shell=bash
# shellcheck source=tests/docs/lib.sh
source "$REPO/tests/docs/lib.sh"
start_health_server
example_env RUNTIME_HEALTH_URLS "$health_base/healthz,$health_base/flaky/warmup"
substitute https://api.example.com/healthz "$health_base/healthz"
substitute https://web.example.com/healthz "$health_base/flaky/web"
printf '%s\n' "$health_base/healthz" "$health_base/status/204" > health-urls.txt
