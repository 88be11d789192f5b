#!/usr/bin/env bats
# health-probe the way the gate-only workflow drives it: the URL list from the
# RUNTIME_HEALTH_URLS secret, probed against a real server on 127.0.0.1
# (tests/support/health_server.py), the report piped into gate-eval's runtime-health preset.

setup() {
  load helpers
  setup_common
  unset RUNTIME_HEALTH_URLS SSL_CERT_FILE SSL_CERT_DIR http_proxy https_proxy HTTP_PROXY HTTPS_PROXY ALL_PROXY all_proxy
  cd "$TMP"
}

teardown() { stop_server; }

@test "RUNTIME_HEALTH_URLS -> health-probe -> gate-eval runtime-health: promote, then hold on a 503" {
  start_health_server
  export RUNTIME_HEALTH_URLS="$BASE/healthz,
$BASE/flaky/warmup"
  run --separate-stderr bash -c "health-probe --retry-delay 100ms | gate-eval --preset runtime-health --fail-on-hold --jq .summary.decision"
  assert_success
  assert_output promote
  assert_equal "$stderr" ""

  export RUNTIME_HEALTH_URLS="$BASE/healthz $BASE/status/503"
  run --separate-stderr bash -c "health-probe --retries 1 --retry-delay 50ms | gate-eval --preset runtime-health --fail-on-hold --jq '.summary.reasonCodes[]'"
  assert_failure 1
  assert_output runtime_health_unhealthy
  assert_equal "$stderr" "health-probe: warning: $BASE/status/503: status 503, expected 200-299 (2 attempts)"
}

@test "--fail-on-unhealthy fails the step after the report; the step summary and annotations name the URL" {
  start_health_server
  export GITHUB_ACTIONS=true GITHUB_STEP_SUMMARY="$TMP/step-summary.md"
  run --separate-stderr health-probe --url "$BASE/healthz" --url "$BASE/slow/3000" \
    --timeout 300ms --retries 0 --fail-on-unhealthy --compact
  assert_failure 1
  echo "$output" > report.json
  assert_equal "$(json_get report.json 'd["summary"]["unhealthy"]')" 1
  assert_equal "$(json_get report.json 'd["checks"][1]["reason"]')" timeout
  [[ "$stderr" == *"::warning title=health-probe::$BASE/slow/3000: no answer within 300ms"* ]]
  grep -q "^## Runtime health: 1 of 2 healthy ❌$" step-summary.md
  grep -q "| $BASE/slow/3000 | ❌ unhealthy | – |" step-summary.md
}

@test "--validate-only: the secret's value checked and normalised one per line, no request sent" {
  start_health_server
  run --separate-stderr health-probe --validate-only --jq '.urls[]' \
    --urls "[\"HTTP://127.0.0.1:$(cat "$SERVER_STATE/port")/healthz#x\", \"$BASE/healthz\", \"https://Status.Example.com:443\"]"
  assert_success
  assert_output "$BASE/healthz
https://status.example.com/"
  [ ! -s "$SERVER_STATE/access.log" ]
}

@test "credentials in the list: exit 2, the URL shown without them, the secret printed nowhere" {
  export RUNTIME_HEALTH_URLS="https://ok.example/healthz,https://deploy:canary-s3cret@api.example.com/healthz"
  run --separate-stderr health-probe --validate-only --json-errors
  assert_failure 2
  [[ "$stderr" == 'health-probe: error: RUNTIME_HEALTH_URLS: URL 2 "https://api.example.com/healthz" carries credentials'* ]]
  [[ "$output$stderr" != *canary-s3cret* ]]
  run --separate-stderr health-probe --urls ' , '
  assert_failure 2
  assert_equal "${stderr%%$'\n'*}" "health-probe: error: no health URLs: give --url, --urls or set RUNTIME_HEALTH_URLS"
}

@test "self-signed TLS: refused unless trusted through SSL_CERT_FILE or --insecure (which warns)" {
  start_health_server --tls
  run --separate-stderr health-probe --url "$BASE/healthz" --retries 0 --jq '.checks[0].reason'
  assert_success
  assert_output tls
  SSL_CERT_FILE="$SERVER_STATE/cert.pem" run --separate-stderr health-probe --url "$BASE/healthz" --retries 0 --jq '.checks[0].ok'
  assert_output true
  assert_equal "$stderr" ""
  run --separate-stderr health-probe --url "$BASE/healthz" --retries 0 --insecure --jq '.checks[0].ok'
  assert_output true
  [[ "$stderr" == "health-probe: warning: TLS verification is off (--insecure)"* ]]
}
