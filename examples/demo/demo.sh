#!/usr/bin/env bash
# The main job on the embedded example: decide whether the payments-api canary may widen.
# `make demo` runs this with the freshly built tools first on PATH.
set -euo pipefail
here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
out=${DEMO_OUT:-$(mktemp -d)}
mkdir -p "$out"
export ROLLOUT_NOW=2026-11-21T08:00:00Z ROLLOUT_TRACE_ID=demo-trace-1

evidence=(-i "$here/evidence.json"
          --evidence "requests=$here/requests.jsonl"
          --evidence "health=$here/health.json")

echo "== 1. gate-eval: the decision document (gates: examples/demo/gates.yaml)"
gate-eval --gates "$here/gates.yaml" "${evidence[@]}" --subject payments-api@1.14.0 \
  --state-file "$out/decision.json" --summary "$out/summary.md" --pretty
echo
echo "== 2. its Markdown summary (what a reviewer reads in the CI step summary)"
cat "$out/summary.md"
echo
echo "== 3. a stricter error budget holds the rollout, and --fail-on-hold fails the step"
set +e
gate-eval --gates "$here/gates.yaml" "${evidence[@]}" --set maxErrorRate=0.005 \
  --fail-on-hold --jq '"decision: \(.summary.decision)  reasons: \(.summary.reasonCodes | join(", "))"'
status=$?
set -e
echo "exit status: $status (1 = hold with --fail-on-hold)"
test "$status" -eq 1
echo
echo "== 4. policy-apply: the promote decision widens the canary 10% -> 35%, exactly once"
cp "$here/registry.v1.json" "$out/registry.v1.json"
gov=(--actor "Ada Lovelace" --approval-ref CHG-1042 --rationale "promotion rollout mutation"
     --review-by 2026-12-01T00:00:00Z)
policy-apply --registry "$out/registry.v1.json" --intent expand --step 25 \
  --decision "$out/decision.json" --subject payments-api@1.14.0 "${gov[@]}" \
  --idempotency-key payments-1.14.0-expand-1 \
  --jq '"\(.status): canary \(.rollout.before.canaryPercent)% -> \(.rollout.after.canaryPercent)% (audit record \(.seq))"'
echo "-- a retry with the same key changes nothing:"
policy-apply --registry "$out/registry.v1.json" --intent expand --step 25 \
  --decision "$out/decision.json" --subject payments-api@1.14.0 "${gov[@]}" \
  --idempotency-key payments-1.14.0-expand-1 --jq '"\(.status) (record \(.seq))"'
echo "-- git diff would show only these lines of the registry:"
diff "$here/registry.v1.json" "$out/registry.v1.json" || true
echo
echo "== 5. an emergency rollback to 0%: no decision needed, governance required and recorded"
policy-apply --registry "$out/registry.v1.json" --intent rollback --to-percent 0 \
  --actor oncall --approval-ref INC-77 --rationale "error spike after widening" \
  --review-by 2026-11-28T00:00:00Z \
  --jq '"\(.status): canary \(.rollout.before.canaryPercent)% -> \(.rollout.after.canaryPercent)%, paused=\(.rollout.after.manualPause)"'
echo
echo "== 6. the audit chain verifies"
policy-apply verify --audit-log "$out/registry.v1.json.audit.jsonl" --jq '"ok=\(.ok) records=\(.records)"'
echo
echo "files in $out"
