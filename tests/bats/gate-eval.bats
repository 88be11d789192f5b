#!/usr/bin/env bats
# gate-eval as a shell user and a workflow step drive it.

setup() {
  load helpers
  setup_common
}

superloop() {
  gate-eval --preset superloop-v1 \
    --evidence "status=$FX/gate/status-ok.json" \
    --evidence "handoff=$FX/gate/handoff-ok.jsonl" \
    --evidence "drills=$FX/gate/$1" "${@:2}"
}

@test "superloop-v1 promotes on healthy evidence" {
  run --separate-stderr superloop drills-ok.json --jq .summary.decision
  assert_success
  assert_output promote
  assert_equal "$stderr" ""
}

@test "a hold with --fail-on-hold exits 1 after writing the state file" {
  run --separate-stderr superloop drills-superloop-bug.json --fail-on-hold \
    --state-file "$TMP/decision.json" --jq '.summary.failedGates[]'
  assert_failure 1
  assert_output drill_recency
  run json_get "$TMP/decision.json" 'd["summary"]["reasonCodes"][0]'
  assert_output promotion_drill_not_passed_ambiguous_retry_guard
}

@test "a health report piped from another step is gated" {
  report='{"schemaVersion":"v1","kind":"health-report","checkedAt":"2026-11-21T07:58:00Z",
           "checks":[{"url":"https://a/health","ok":false,"status":503}]}'
  run --separate-stderr bash -c "printf '%s' '$report' | gate-eval --preset runtime-health --jq '.summary.reasonCodes | join(\",\")'"
  assert_success
  assert_output runtime_health_unhealthy
}

@test "a closed stdout ends the run quietly with 0" {
  # The reader is gone before gate-eval writes: the write gets EPIPE.
  run --separate-stderr bash -c "set -o pipefail; { sleep 0.3; gate-eval --preset superloop-v1 --pretty </dev/null --evidence drills=x.json; } | true"
  assert_success
  assert_equal "$stderr" ""
}

@test "the Markdown summary is appended to GITHUB_STEP_SUMMARY" {
  export GITHUB_STEP_SUMMARY="$TMP/step.md"
  run --separate-stderr superloop drills-superloop-bug.json
  assert_success
  run grep -c '^## gate-eval: HOLD' "$TMP/step.md"
  assert_output 1
  run grep -F -- '- **drill_recency**:' "$TMP/step.md"
  assert_success
}

@test "ROLLOUT_NOW and ROLLOUT_TRACE_ID come from the environment" {
  export ROLLOUT_NOW=2026-11-21T10:30:00+02:00 ROLLOUT_TRACE_ID=from-env
  run --separate-stderr superloop drills-ok.json --jq '[.generatedAt, .validUntil, .traceId] | join(" ")'
  assert_output "2026-11-21T08:30:00Z 2026-11-21T09:30:00Z from-env"
}

@test "under GitHub Actions a failure is also a workflow error command" {
  export GITHUB_ACTIONS=true
  run --separate-stderr gate-eval --gates "$TMP/missing.yaml" -i "$FX/gate/custom-evidence.json"
  assert_failure 2
  [[ "${stderr_lines[0]}" == "gate-eval: error: cannot read $TMP/missing.yaml: No such file or directory (os error 2)" ]]
  [[ "$stderr" == *"::error title=gate-eval::cannot read"* ]]
}

@test "an unknown flag is one error line and exit 2, with nothing on stdout" {
  run --separate-stderr gate-eval --preset superloop-v1 --frobnicate
  assert_failure 2
  assert_output ""
  [[ "${stderr_lines[0]}" == "gate-eval: error: unexpected argument '--frobnicate' found" ]]
}

@test "--help shows real examples and the exit status" {
  run gate-eval --help
  assert_success
  assert_output --partial "gate-eval --preset superloop-v1 --subject fleet-a"
  assert_output --partial "Exit status: 0 decision printed"
}

@test "the man page documents the gates file, presets, dialect and exit status" {
  for section in 'GATES FILE' CHECKS 'JQ VARIABLES AND DIALECT' PRESETS 'EXIT STATUS' EXAMPLES; do
    grep -q "^\.SH \"\?$section" "$ROOT/man/gate-eval.1" || { echo "missing $section"; false; }
  done
}

@test "the README quickstart gates file gives the documented decision" {
  run --separate-stderr gate-eval --gates "$EX/demo/gates.yaml" -i "$EX/demo/evidence.json" \
    --evidence "requests=$EX/demo/requests.jsonl" --evidence "health=$EX/demo/health.json" \
    --jq '"\(.summary.decision) \(.summary.warnings | join(","))"'
  assert_success
  assert_output "promote changelog_missing"
}

@test "make demo's script runs the whole example" {
  DEMO_OUT="$TMP/demo" run --separate-stderr "$EX/demo/demo.sh"
  assert_success
  assert_output --partial "## gate-eval: PROMOTE"
  assert_output --partial "decision: hold  reasons: error_rate_exceeded"
  run json_get "$TMP/demo/decision.json" 'd["summary"]["decision"]'
  assert_output promote
}

@test "history appends one line per run under its lock" {
  for _ in 1 2 3; do
    superloop drills-ok.json --history-file "$TMP/decisions.jsonl" >/dev/null
  done
  run json_get "$TMP/decisions.jsonl" 'd["summary"]["decision"]'
  assert_output "$(printf 'promote\npromote\npromote')"
}
