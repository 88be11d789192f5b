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
echo "decision saved in $out/decision.json"
