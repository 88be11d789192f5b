#!/usr/bin/env bats
# policy-apply chained after gate-eval, as a workflow step runs it.

setup() {
  load helpers
  setup_common
  cp "$EX/demo/registry.v1.json" "$TMP/registry.v1.json"
  GOV=(--actor "Ada Lovelace" --approval-ref CHG-1042 --rationale "promotion rollout mutation"
       --review-by 2026-12-01T00:00:00Z)
}

decide() {
  gate-eval --gates "$EX/demo/gates.yaml" -i "$EX/demo/evidence.json" \
    --evidence "requests=$EX/demo/requests.jsonl" --evidence "health=$EX/demo/health.json" \
    --subject payments "$@"
}

@test "gate-eval | policy-apply expands on a promote decision read from stdin" {
  run --separate-stderr bash -c "$(declare -f decide); EX='$EX'; decide | policy-apply --registry '$TMP/registry.v1.json' --intent expand --step 25 -i - --subject payments --actor 'Ada Lovelace' --approval-ref CHG-1042 --rationale 'promotion rollout mutation' --review-by 2026-12-01T00:00:00Z --jq '\"\(.status) \(.rollout.after.canaryPercent) \(.governance.rationale)\"'"
  assert_success
  assert_output "applied 35 promotion rollout mutation"
  run json_get "$TMP/registry.v1.json" 'd["policy"]["autonomous"]["rollout"]["canaryPercent"]'
  assert_output 35
}

@test "a hold decision is refused with exit 3 and the registry is untouched" {
  decide --set maxErrorRate=0.001 > "$TMP/hold.json"
  cp "$TMP/registry.v1.json" "$TMP/before.json"
  run --separate-stderr policy-apply --registry "$TMP/registry.v1.json" --intent expand \
    --decision "$TMP/hold.json" --subject payments "${GOV[@]}"
  assert_failure 3
  [[ "${stderr_lines[0]}" == 'policy-apply: error: the decision is "hold", not "promote" (reasons: error_rate_exceeded)' ]]
  cmp "$TMP/registry.v1.json" "$TMP/before.json"
  [ ! -e "$TMP/registry.v1.json.audit.jsonl" ]
}

@test "rollback needs no decision and works on expired governance" {
  run --separate-stderr policy-apply --registry "$TMP/registry.v1.json" --intent rollback --to-percent 0 "${GOV[@]}" \
    --jq '"\(.status) \(.rollout.after.canaryPercent) \(.rollout.after.manualPause)"'
  assert_success
  assert_output "applied 0 true"
}

@test "twenty parallel expands by 1 from 0 end at 20 with a chain that verifies" {
  sed -i 's/"canaryPercent": 10/"canaryPercent": 0/' "$TMP/registry.v1.json"
  decide > "$TMP/decision.json"
  for i in $(seq 1 20); do
    policy-apply --registry "$TMP/registry.v1.json" --intent expand --step 1 --decision "$TMP/decision.json" \
      --subject payments "${GOV[@]}" --idempotency-key "k$i" >/dev/null &
  done
  wait
  run json_get "$TMP/registry.v1.json" 'd["policy"]["autonomous"]["rollout"]["canaryPercent"]'
  assert_output 20
  run policy-apply verify --audit-log "$TMP/registry.v1.json.audit.jsonl" --jq '"\(.ok) \(.records)"'
  assert_output "true 20"
}

@test "verify exits 1 and names an edited record" {
  policy-apply --registry "$TMP/registry.v1.json" --intent pause "${GOV[@]}" >/dev/null
  policy-apply --registry "$TMP/registry.v1.json" --intent rollback --to-percent 5 "${GOV[@]}" >/dev/null
  sed -i '1s/Ada Lovelace/Mallory/' "$TMP/registry.v1.json.audit.jsonl"
  run --separate-stderr policy-apply verify --audit-log "$TMP/registry.v1.json.audit.jsonl" \
    --jq '"\(.ok) \(.firstBreak.reason) \(.firstBreak.expectedSeq)"'
  assert_failure 1
  assert_output "false edited 1"
}

@test "a crash after the registry write is finished by the retry" {
  decide > "$TMP/decision.json"
  run env POLICY_APPLY_FAULT=after-registry policy-apply --registry "$TMP/registry.v1.json" --intent expand \
    --decision "$TMP/decision.json" --subject payments "${GOV[@]}" --idempotency-key once
  assert_failure
  run --separate-stderr policy-apply --registry "$TMP/registry.v1.json" --intent expand \
    --decision "$TMP/decision.json" --subject payments "${GOV[@]}" --idempotency-key once --jq .status
  assert_success
  assert_output replayed
  [[ "$stderr" == *"completed an interrupted apply (audit record 1)"* ]]
  run json_get "$TMP/registry.v1.json" 'd["policy"]["autonomous"]["rollout"]["canaryPercent"]'
  assert_output 35
}
