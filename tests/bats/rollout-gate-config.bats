#!/usr/bin/env bats
# rollout-gate-config: validate, then write the gate's secrets with gh, and prove them with a
# gate_only run. `gh` is a stand-in (tests/support/fake_gh.py) that records every call,
# the value each secret received and the token it was given.

setup() {
  load helpers
  setup_common
  PATH="$ROOT/bin:$PATH"
  mkdir -p "$TMP/fakebin"
  printf '#!/bin/sh\nexec python3 %s "$@"\n' "$ROOT/tests/support/fake_gh.py" > "$TMP/fakebin/gh"
  chmod +x "$TMP/fakebin/gh"
  PATH="$TMP/fakebin:$PATH"
  export FAKE_GH_STATE="$TMP/gh-state.json" FAKE_GH_LOG="$TMP/gh.log" ROLLOUT_POLL_SECONDS=0
  echo '{}' > "$FAKE_GH_STATE"
  : > "$FAKE_GH_LOG"
  unset GH_TOKEN GITHUB_TOKEN GH_HOST FAKE_GH_FAIL FAKE_GH_CONCLUSION
  # no credential helper of the machine may answer
  export GIT_CONFIG_GLOBAL=/dev/null GIT_CONFIG_NOSYSTEM=1 HOME="$TMP"
  cd "$TMP"
}

secret() { json_get "$FAKE_GH_STATE" "d['secrets']['acme/payments']['$1']"; }

@test "secrets are validated, normalised and written through stdin; the token is never printed" {
  export GH_TOKEN=canary-gh-t0ken
  run --separate-stderr rollout-gate-config --repo acme/payments \
    --urls "HTTPS://Payments.example.com:443/healthz, https://payments.example.com/healthz
https://payments.example.com/readyz#x" --rollback-command "kubectl -n payments rollout undo deploy/api"
  assert_success
  assert_equal "$(secret RUNTIME_HEALTH_URLS)" "https://payments.example.com/healthz,https://payments.example.com/readyz"
  assert_equal "$(secret RUNTIME_ROLLBACK_COMMAND)" "kubectl -n payments rollout undo deploy/api"
  [[ "$output$stderr" != *canary-gh-t0ken* ]]
  [[ "$stderr" == *"✓ set RUNTIME_HEALTH_URLS on acme/payments: 2 URL(s)"*"(token: GH_TOKEN)"* ]]
  echo "$output" > result.json
  assert_equal "$(json_get result.json 'd["secrets"][0]')" '{"name": "RUNTIME_HEALTH_URLS", "action": "set", "detail": "2 URL(s): https://payments.example.com/healthz, https://payments.example.com/readyz"}'
  assert_equal "$(json_get result.json 'd["dispatch"]')" null
  # gh got the token and the values on stdin, never in its arguments
  grep -q '"token": "canary-gh-t0ken"' gh.log
  run grep -c 'rollout undo' <(grep '^\[' gh.log)
  assert_output 0
}

@test "the token comes from git credential fill when the environment has none" {
  cat > "$TMP/helper.sh" <<'SH'
#!/bin/sh
[ "$1" = get ] && printf 'username=x-access-token\npassword=canary-helper-t0ken\n'
SH
  chmod +x "$TMP/helper.sh"
  git config --file "$TMP/gitconfig" credential.helper "$TMP/helper.sh"
  export GIT_CONFIG_GLOBAL="$TMP/gitconfig"
  run --separate-stderr rollout-gate-config --repo acme/payments --urls https://payments.example.com/healthz
  assert_success
  grep -q '"token": "canary-helper-t0ken"' gh.log
  [[ "$stderr" == *"(token: git credential fill (github.com))"* ]]
  [[ "$output$stderr" != *canary-helper-t0ken* ]]
}

@test "invalid input writes nothing and calls no gh: credentials, bad scheme, empty or multi-line command" {
  run --separate-stderr rollout-gate-config --repo acme/payments --urls "https://ops:s3cret@payments.example.com/healthz"
  assert_failure 2
  [[ "$stderr" == 'health-probe: error: --urls: URL 1 "https://payments.example.com/healthz" carries credentials'* ]]
  [[ "$stderr" != *s3cret* ]]
  run --separate-stderr rollout-gate-config --repo acme/payments --urls "ftp://x/"
  assert_failure 2
  run --separate-stderr rollout-gate-config --repo acme/payments --urls " , "
  assert_failure 2
  [[ "$stderr" == "health-probe: error: no health URLs"* ]]
  run --separate-stderr rollout-gate-config --repo acme/payments --urls https://ok.example/ --rollback-command "   "
  assert_failure 2
  assert_equal "${stderr%%$'\n'*}" "rollout-gate-config: error: --rollback-command must not be empty"
  run --separate-stderr rollout-gate-config --repo acme/payments --rollback-command $'kubectl rollout undo\nrm -rf /'
  assert_failure 2
  assert_equal "${stderr%%$'\n'*}" "rollout-gate-config: error: --rollback-command must be one line (it runs through sh -c)"
  run --separate-stderr rollout-gate-config --repo not-a-repo --urls https://ok.example/
  assert_failure 2
  run --separate-stderr rollout-gate-config --repo acme/payments
  assert_failure 2
  [[ "$stderr" == *"nothing to do"* ]]
  assert_equal "$(cat gh.log)" ""
}

@test "--dry-run validates and says what it would do; gh is not called" {
  run --separate-stderr rollout-gate-config --repo acme/payments --dry-run \
    --urls "https://payments.example.com/healthz" --rollback-command "echo undo" --dispatch publish.yml --ref main
  assert_success
  echo "$output" > result.json
  assert_equal "$(json_get result.json 'd["dryRun"]')" true
  assert_equal "$(json_get result.json '[s["action"] for s in d["secrets"]]')" '["would_set", "would_set"]'
  assert_equal "$(json_get result.json 'd["dispatch"]["status"]')" would_run
  [[ "$stderr" == *"would set RUNTIME_ROLLBACK_COMMAND on acme/payments: one line, 9 characters"* ]]
  [[ "$stderr" == *"would run publish.yml on acme/payments at main with mode=gate_only"* ]]
  assert_equal "$(cat gh.log)" ""
}

@test "--dispatch runs the workflow with mode=gate_only, finds the new run, waits and reports its conclusion" {
  # an older run of the same workflow must not be mistaken for the new one
  echo '{"runs": [{"id": 8000, "repo": "acme/payments", "workflow": "publish.yml", "ref": "main", "inputs": {}, "conclusion": "failure", "views": 5}]}' > "$FAKE_GH_STATE"
  export GH_TOKEN=t
  run --separate-stderr rollout-gate-config --repo acme/payments --urls https://payments.example.com/healthz \
    --dispatch publish.yml --ref main
  assert_success
  echo "$output" > result.json
  assert_equal "$(json_get result.json 'd["dispatch"]["runId"]')" 9001
  assert_equal "$(json_get result.json 'd["dispatch"]["conclusion"]')" success
  assert_equal "$(json_get result.json 'd["dispatch"]["url"]')" https://github.com/acme/payments/actions/runs/9001
  assert_equal "$(json_get "$FAKE_GH_STATE" 'd["runs"][1]["inputs"]')" '{"mode": "gate_only"}'
  [[ "$stderr" == *"✓ run 9001 concluded success"* ]]

  export FAKE_GH_CONCLUSION=failure
  run --separate-stderr rollout-gate-config --repo acme/payments --dispatch publish.yml
  assert_failure 1
  [[ "$stderr" == *"rollout-gate-config: error: run 9002 concluded failure: https://github.com/acme/payments/actions/runs/9002"* ]]
}

@test "a gh failure names the step and keeps gh's exit code" {
  export GH_TOKEN=t FAKE_GH_FAIL=secret
  run --separate-stderr rollout-gate-config --repo acme/payments --urls https://payments.example.com/healthz
  assert_failure 1
  [[ "$stderr" == *"HTTP 403"* ]]
  [[ "$stderr" == *"rollout-gate-config: error: setting secret RUNTIME_HEALTH_URLS failed (gh exited with 1)"* ]]
}

@test "--jq filters the result document; --compact is accepted" {
  run --separate-stderr rollout-gate-config --repo acme/payments --urls "https://a.example/healthz" \
    --dry-run --jq '.repo' --compact
  assert_success
  assert_output acme/payments
}
