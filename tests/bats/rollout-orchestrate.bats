#!/usr/bin/env bats
# rollout-orchestrate: decide, apply with governance, verify the runtime, roll back, and say
# what really happened in orchestrate-result.json. The embedded example (examples/demo)
# gives a promote decision at the fixed clock; a loopback health server gives the runtime.

setup() {
  load helpers
  setup_common
  PATH="$ROOT/bin:$PATH"
  E="$EX/demo"
  cd "$TMP"
  cp "$E/registry.v1.json" registry.v1.json
  cp registry.v1.json registry.orig.json
  GATES=(--gates "$E/gates.yaml" -i "$E/evidence.json" --evidence "requests=$E/requests.jsonl"
    --evidence "health=$E/health.json" --subject payments-api@1.14.0)
  GOV=(--actor alice --approval-ref CHG-1042 --rationale "promotion rollout mutation"
    --review-by 2026-12-01T00:00:00Z)
}

teardown() { stop_server; }

result() { json_get "${OUT:-out}/orchestrate-result.json" "$1"; }

@test "dry_run: the decision only, registry untouched, result and summary written (also to the step summary)" {
  export GITHUB_STEP_SUMMARY="$TMP/step.md"
  run --separate-stderr rollout-orchestrate --mode dry_run --registry registry.v1.json "${GATES[@]}" --out-dir out
  assert_success
  assert_equal "$(result 'd["status"]')" preview
  assert_equal "$(result 'd["decision"]["decision"]')" promote
  assert_equal "$(result 'd["apply"]')" null
  cmp registry.v1.json registry.orig.json
  grep -q '^## Rollout orchestration: preview$' out/orchestrate-summary.md
  grep -q '^## Rollout orchestration: preview$' step.md
  # stdout is the result document
  assert_equal "$output" "$(cat out/orchestrate-result.json)"
}

@test "apply: arguments with spaces, quotes, globs and a newline reach policy-apply intact; a retry replays" {
  rationale=$'promotion rollout mutation\nsecond line: $HOME * "quoted"'
  run --separate-stderr rollout-orchestrate --mode apply --registry registry.v1.json "${GATES[@]}" \
    --actor "Alice O'Brien" --approval-ref 'CHG-1042 [*]' --rationale "$rationale" \
    --review-by 2026-12-01T00:00:00Z --idempotency-key rollout-42 --step 25 --out-dir out
  assert_success
  assert_equal "$(result 'd["status"]')" applied
  assert_equal "$(result 'd["apply"]["after"]["canaryPercent"]')" 35
  assert_equal "$(json_get out/apply-record.json 'd["governance"]["actor"]')" "Alice O'Brien"
  assert_equal "$(json_get out/apply-record.json 'd["governance"]["approvalRef"]')" 'CHG-1042 [*]'
  assert_equal "$(json_get out/apply-record.json 'd["governance"]["rationale"]')" "$rationale"
  # the trace id is one across the stages
  assert_equal "$(json_get out/apply-record.json 'd["traceId"]')" "$(result 'd["traceId"]')"
  cp registry.v1.json after-first.json

  OUT=again
  run --separate-stderr rollout-orchestrate --mode apply --registry registry.v1.json "${GATES[@]}" \
    --actor "Alice O'Brien" --approval-ref 'CHG-1042 [*]' --rationale "$rationale" \
    --review-by 2026-12-01T00:00:00Z --idempotency-key rollout-42 --step 25 --out-dir again
  assert_success
  assert_equal "$(result 'd["status"]')" replayed
  cmp registry.v1.json after-first.json
}

@test "held: nothing applied; exit 0, or 1 with --fail-on-hold" {
  # an hour later the health evidence is stale: the decision is hold
  export ROLLOUT_NOW=2026-11-21T09:30:00Z
  run --separate-stderr rollout-orchestrate --mode apply --registry registry.v1.json "${GATES[@]}" "${GOV[@]}" \
    --review-by 2026-12-01T00:00:00Z --out-dir out
  assert_success
  assert_equal "$(result 'd["status"]')" held
  assert_equal "$(result 'd["decision"]["decision"]')" hold
  cmp registry.v1.json registry.orig.json
  run --separate-stderr rollout-orchestrate --mode apply --registry registry.v1.json "${GATES[@]}" "${GOV[@]}" --out-dir out --fail-on-hold
  assert_failure 1
  assert_equal "$(result 'd["status"]')" held
  run --separate-stderr rollout-orchestrate --mode dry_run --registry registry.v1.json "${GATES[@]}" --out-dir out --fail-on-hold
  assert_failure 1
  assert_equal "$(result 'd["status"]')" preview
  cmp registry.v1.json registry.orig.json
}

@test "every governance flag is required for apply and rollback, named by policy-apply --check before any stage; a result is still written" {
  for missing in --actor --approval-ref --rationale --review-by; do
    args=()
    for ((i = 0; i < ${#GOV[@]}; i += 2)); do
      [ "${GOV[i]}" = "$missing" ] || args+=("${GOV[i]}" "${GOV[i+1]}")
    done
    for mode in apply rollback; do
      run --separate-stderr rollout-orchestrate --mode "$mode" --registry registry.v1.json "${GATES[@]}" "${args[@]}" --out-dir out
      # policy-apply's own refusal (exit 3), its message the run's
      assert_failure 3
      [ "$missing" != --review-by ] || missing="--review-by (or --review-in)"
      message="policy-apply: error: governance is required for every intent: $missing is missing or empty"
      assert_equal "${stderr_lines[0]}" "$message"
      assert_equal "${stderr_lines[1]}" "rollout-orchestrate: error: $message"
      assert_equal "$(result 'd["status"]')" failed
      assert_equal "$(result 'd["error"]["stage"]')" arguments
      assert_equal "$(result 'd["error"]["message"]')" "$message"
      # no stage ran: no decision, and no clock or trace id of a tool
      assert_equal "$(result 'd["decision"]')" null
      assert_equal "$(result 'd["timestamp"]')" null
    done
  done
  # all of them missing: named in one error
  run --separate-stderr rollout-orchestrate --mode apply --registry registry.v1.json "${GATES[@]}" --out-dir out
  assert_failure 3
  [[ "$stderr" == *"--actor, --approval-ref, --rationale and --review-by (or --review-in) are missing or empty"* ]]
  cmp registry.v1.json registry.orig.json
  run --separate-stderr rollout-orchestrate --mode apply_now --registry registry.v1.json
  assert_failure 2
  [[ "$stderr" == *'--mode must be one of dry_run, apply, rollback (got "apply_now")'* ]]
  # the gate flags are gate-eval's to judge
  run --separate-stderr rollout-orchestrate --mode apply --registry registry.v1.json "${GOV[@]}" --out-dir out
  assert_failure 2
  [[ "$stderr" == *"gate-eval: error: the following required arguments were not provided: --gates <FILE>"* ]]
  assert_equal "$(result 'd["error"]["stage"]')" decision
  cmp registry.v1.json registry.orig.json
}

@test "the step, the target percent and the review date are judged by policy-apply --check, before the first stage" {
  for bad in "--step 500" "--step 0" "--to-percent 101" "--review-in 400d"; do
    read -r -a flag <<<"$bad"
    gov=(--actor alice --approval-ref CHG-1042 --rationale widen)
    [[ $bad == --review* ]] || gov+=(--review-in 7d)
    run --separate-stderr rollout-orchestrate --mode apply --registry registry.v1.json "${GATES[@]}" \
      "${gov[@]}" "${flag[@]}" --out-dir out
    # the same message as policy-apply itself gives for the flag
    intent=expand
    [[ $bad != --to* ]] || intent=rollback
    expected=$(policy-apply --registry registry.v1.json --intent $intent --check "${gov[@]}" "${flag[@]}" \
      2>&1 >/dev/null | head -1) || true
    [[ "$expected" == "policy-apply: error: "* ]]
    assert_equal "$(result 'd["error"]["message"]')" "$expected"
    assert_equal "$(result 'd["error"]["stage"]')" arguments
    [ "$status" -ge 2 ]
    # nothing ran: no decision was made
    [ ! -e out/decision.json ]
  done
  cmp registry.v1.json registry.orig.json
  # --step is the expand's: a resume dispatched with the same form ignores it
  run --separate-stderr rollout-orchestrate --mode apply --registry registry.v1.json "${GATES[@]}" "${GOV[@]}" \
    --intent resume --step 25 --out-dir out
  assert_success
  assert_equal "$(result 'd["apply"]["intent"]')" resume
}

@test "a failed verification rolls back (status rolled_back, exit 1) and runs the rollback command" {
  start_health_server
  run --separate-stderr rollout-orchestrate --mode apply --registry registry.v1.json "${GATES[@]}" "${GOV[@]}" \
    --idempotency-key rollout-43 --verify-urls "$BASE/healthz $BASE/status/503" --to-percent 0 \
    --rollback-command 'echo "undo $0 with spaces"; exit 0' --out-dir out
  assert_failure 1
  assert_equal "$(result 'd["status"]')" rolled_back
  assert_equal "$(result 'd["verification"]["decision"]["reasonCodes"]')" '["runtime_health_unhealthy"]'
  assert_equal "$(result 'd["rollback"]["trigger"]')" verification_failed
  assert_equal "$(result 'd["rollback"]["record"]["after"]')" '{"canaryPercent": 0, "manualPause": true}'
  assert_equal "$(result 'd["rollback"]["command"]["exitCode"]')" 0
  grep -q '^undo sh with spaces$' out/rollback-command.log
  assert_equal "$(json_get registry.v1.json 'd["policy"]["autonomous"]["rollout"]["canaryPercent"]')" 0
  policy-apply verify --audit-log registry.v1.json.audit.jsonl --jq .valid
}

@test "a healthy verification keeps the change; a failing rollback command's exit code is the run's" {
  start_health_server
  run --separate-stderr rollout-orchestrate --mode apply --registry registry.v1.json "${GATES[@]}" "${GOV[@]}" \
    --verify-urls "$BASE/healthz,$BASE/flaky/warmup" --out-dir out
  assert_success
  assert_equal "$(result 'd["status"]')" applied
  assert_equal "$(result 'd["verification"]["health"]["healthy"]')" 2
  assert_equal "$(result 'd["rollback"]')" null

  export RUNTIME_ROLLBACK_COMMAND='echo cannot reach the cluster >&2; exit 7'
  run --separate-stderr rollout-orchestrate --mode apply --registry registry.v1.json "${GATES[@]}" "${GOV[@]}" \
    --verify-urls "$BASE/status/500" --out-dir out
  assert_failure 7
  assert_equal "$(result 'd["status"]')" rolled_back
  assert_equal "$(result 'd["error"]["stage"]')" rollback_command
  assert_equal "$(result 'd["rollback"]["command"]["exitCode"]')" 7
  [[ "$stderr" == *"rollout-orchestrate: error: the rollback command exited with 7"* ]]
}

@test "rollback mode: rolled_back, a retry is replayed, and a key used by an expand is refused, never rolled_back" {
  run --separate-stderr rollout-orchestrate --mode rollback --registry registry.v1.json "${GOV[@]}" \
    --to-percent 0 --idempotency-key inc-77 --out-dir out
  assert_success
  assert_equal "$(result 'd["status"]')" rolled_back
  run --separate-stderr rollout-orchestrate --mode rollback --registry registry.v1.json "${GOV[@]}" \
    --to-percent 0 --idempotency-key inc-77 --out-dir out
  assert_success
  assert_equal "$(result 'd["status"]')" replayed

  # the replaced wrapper reported rolled_back here, while nothing was rolled back
  rollout-orchestrate --mode apply --registry registry.v1.json "${GATES[@]}" "${GOV[@]}" --idempotency-key rollout-44 --out-dir exp >/dev/null
  cp registry.v1.json before.json
  run --separate-stderr rollout-orchestrate --mode rollback --registry registry.v1.json "${GOV[@]}" \
    --idempotency-key rollout-44 --out-dir out
  assert_failure 4
  assert_equal "$(result 'd["status"]')" failed
  assert_equal "$(result 'd["error"]["stage"]')" rollback
  [[ "$(result 'd["error"]["message"]')" == "policy-apply: error: "* ]]
  cmp registry.v1.json before.json
}

@test "a stage's failure propagates its exit code and message; the result names the stage" {
  printf 'schemaVersion: v1\nkind: gates\ngates: [' > broken.yaml
  run --separate-stderr rollout-orchestrate --mode apply --registry registry.v1.json --gates broken.yaml "${GOV[@]}" --out-dir out
  assert_failure 2
  assert_equal "$(result 'd["status"]')" failed
  assert_equal "$(result 'd["error"]["stage"]')" decision
  assert_equal "$(result 'd["error"]["exitCode"]')" 2
  [[ "$(result 'd["error"]["message"]')" == "gate-eval: error: "* ]]
  cmp registry.v1.json registry.orig.json
}

@test "--review-in passes a review window to policy-apply: the date is the clock's plus the window" {
  run --separate-stderr rollout-orchestrate --mode apply --registry registry.v1.json "${GATES[@]}" \
    --actor alice --approval-ref CHG-1042 --rationale "widen" --review-in 7d --out-dir out
  assert_success
  assert_equal "$(json_get out/apply-record.json 'd["governance"]["reviewBy"]')" 2026-11-28T08:00:00Z
  run --separate-stderr rollout-orchestrate --mode apply --registry registry.v1.json "${GATES[@]}" \
    --actor alice --approval-ref CHG-1042 --rationale "widen" --review-in 7d \
    --review-by 2026-11-30T00:00:00Z --out-dir out2
  assert_failure 2
  assert_equal "${stderr_lines[0]}" "policy-apply: error: the argument '--review-by <RFC3339>' cannot be used with '--review-in <DURATION>'"
  OUT=out2
  assert_equal "$(result 'd["error"]["stage"]')" arguments
}

@test "an automatic rollback returns the canary to where the apply found it; a retry does not run the command again" {
  start_health_server
  args=(--mode apply --registry registry.v1.json "${GATES[@]}" "${GOV[@]}" --idempotency-key rollout-44
    --verify-urls "$BASE/status/503" --rollback-command "echo undo >> $TMP/undo.log")
  run --separate-stderr rollout-orchestrate "${args[@]}" --out-dir out
  assert_failure 1
  assert_equal "$(result 'd["apply"]["before"]["canaryPercent"]')" 10
  assert_equal "$(result 'd["apply"]["after"]["canaryPercent"]')" 35
  assert_equal "$(result 'd["rollback"]["record"]["after"]')" '{"canaryPercent": 10, "manualPause": true}'
  assert_equal "$(json_get registry.v1.json 'd["policy"]["autonomous"]["rollout"]["canaryPercent"]')" 10
  assert_equal "$(cat "$TMP/undo.log")" undo
  cp registry.v1.json after-rollback.json

  # the same run again (a CI retry): the apply and the rollback replay, the command does not run
  OUT=again
  run --separate-stderr rollout-orchestrate "${args[@]}" --out-dir again
  assert_failure 1
  assert_equal "$(result 'd["apply"]["status"]')" replayed
  assert_equal "$(result 'd["rollback"]["status"]')" replayed
  assert_equal "$(result 'd["rollback"]["command"]')" '{"ran": false, "reason": "replayed"}'
  assert_equal "$(cat "$TMP/undo.log")" undo
  cmp registry.v1.json after-rollback.json
  assert_equal "$(grep -c . registry.v1.json.audit.jsonl)" 2
}

@test "--jq filters the result like every tool's --jq; --compact is accepted; a bad program is a usage error" {
  run --separate-stderr rollout-orchestrate --mode dry_run --registry registry.v1.json "${GATES[@]}" \
    --out-dir out --jq '.status' --compact
  assert_success
  assert_output preview
  assert_equal "$(result 'd["status"]')" preview
  run --separate-stderr rollout-orchestrate --mode dry_run --registry registry.v1.json "${GATES[@]}" \
    --out-dir out2 --jq '.status |'
  assert_failure 2
  [[ "$stderr" == *"--jq: not a valid jq program"* ]]
}
