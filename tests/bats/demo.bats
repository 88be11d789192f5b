#!/usr/bin/env bats
# make demo's script, end to end in a fresh directory: every step runs, the account it
# prints says what happened, and the artifacts it names are there.

setup() {
  load helpers
  setup_common
  PATH="$ROOT/bin:$PATH"
  unset ROLLOUT_NOW
}

@test "the demo runs end to end and leaves its artifacts" {
  run --separate-stderr env DEMO_OUT="$TMP/demo" "$ROOT/examples/demo/demo.sh"
  assert_success
  for step in 1 2 3 4 5 6 7 8 9 10 11 12 13; do
    [[ "$output" == *"== $step. "* ]]
  done
  [[ "$output" == *"runtime-health: promote"* ]]
  [[ "$output" == *"upstream-freshness: hold (upstream_pin_stale)"* ]]
  [[ "$output" == *"| Rollback | verification_failed → rolled_back: canary 60% → 0%, paused; command exit 0 |"* ]]
  [[ "$output" == *"audit chain ok=true, 3 records"* ]]
  [[ "$output" == *"oci-labels, built from the commit being rolled back to: promote"* ]]
  [[ "$output" == *"oci-labels, v2.0.0 built from another commit: hold (revision_label_mismatch)"* ]]
  [[ "$output" == *"v1.4.2 of 5 tags, sha256:"* ]]
  [[ "$output" == *"retagged: true, the tag now points at sha256:"* ]]
  [[ "$output" == *"files in $TMP/demo" ]]
  for f in decision.json registry.v1.json prune-plan.json health-report.json \
    orchestrate/run3/orchestrate-result.json orchestrate/run3/rollback-command.log \
    image-report.json; do
    [ -s "$TMP/demo/$f" ]
  done
  # the demo's health server is gone when it ends: its port no longer answers
  port=$(cat "$TMP/demo/health-server/port")
  run bash -c "exec 3<>/dev/tcp/127.0.0.1/$port"
  assert_failure
  # and so is its registry
  port=$(cat "$TMP/demo/registry/port")
  run bash -c "exec 3<>/dev/tcp/127.0.0.1/$port"
  assert_failure
}
