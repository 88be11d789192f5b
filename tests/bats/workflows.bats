#!/usr/bin/env bats
# The example workflows of examples/github, run for real under act in host mode (the
# harness is tests/bats/workflows.bash). Every assertion is on an outcome: the bare remote's
# branches, commits and diffs, the stand-ins' call logs, the artifacts and the job summary;
# never on act's console.

setup() {
  load workflows
  setup_rehearsal
}

teardown() {
  # a failed scenario shows the end of act's console (and where act itself panicked, if it
  # did: the first lines of a Go trace), to read, never to assert on
  if [ -z "${BATS_TEST_COMPLETED:-}" ]; then
    grep -h -m1 -A4 -E '^(panic|fatal error):' "$T"/act-*.log 2>/dev/null || true
    tail -n 40 "$T"/act-*.log 2>/dev/null || true
  fi
  stop_server
  if [ -n "${RELEASES_PID:-}" ]; then kill "$RELEASES_PID" 2>/dev/null || true; fi
  if [ -n "${GIT_SERVER_PID:-}" ]; then kill "$GIT_SERVER_PID" 2>/dev/null || true; fi
}

GOVERNANCE='"actor": "alice", "approval_ref": "CHG-1042", "rationale": "widen the canary", "review_by": "2026-12-15T00:00:00Z"'

promotion_consumer() {
  new_consumer "$FX/workflows"
  start_health_server
  ACT_EXTRA=(--secret "RUNTIME_HEALTH_URLS=$BASE/healthz"
    --secret "RUNTIME_ROLLBACK_COMMAND=echo rolled back >> $T/rollback.log")
}

audit_records() {
  git --git-dir "$REMOTE" show "${1:-main}:ops/registry.v1.json.audit.jsonl" | grep -c . || true
}

canary() {
  git --git-dir "$REMOTE" show "${1:-main}:ops/registry.v1.json" |
    python3 -c 'import json,sys; print(json.load(sys.stdin)["policy"]["autonomous"]["rollout"]["canaryPercent"])'
}

# --- 1. promotion-rollout ------------------------------------------------------------------

@test "promotion-rollout dry_run: no commit, the decision in the job summary and the artifact" {
  promotion_consumer
  inputs '{"mode": "dry_run"}'
  run rehearse workflow_dispatch promotion-rollout.yml
  assert_success
  assert_equal "$(remote_log | wc -l)" 1
  grep -q '^## Rollout orchestration: preview$' "$SUMMARY"
  grep -q 'promote' "$SUMMARY"
  assert_equal "$(json_get "$T/artifacts/rollout-1001-1/orchestrate-result.json" 'd["status"]')" preview
  # the checkout was the workflow's own commit; the toolkit was not checked out into it
  assert_equal "$(standin_calls checkout | wc -l)" 1
  assert_equal "$(json_get "$STANDIN_LOG" 'd["head"]')" "$(git -C "$W" rev-parse HEAD)"
}

@test "promotion-rollout apply: one commit changing the canary, the governance and the audit log; a re-run replays" {
  promotion_consumer
  inputs "{\"mode\": \"apply\", \"step\": 25, \"idempotency_key\": \"rollout-7\", $GOVERNANCE}"
  run rehearse workflow_dispatch promotion-rollout.yml
  assert_success
  assert_equal "$(remote_log | head -1)" "rollout: apply (run 1001)"
  assert_equal "$(remote_files main)" "$(printf '%s\n' ops/registry.v1.json ops/registry.v1.json.audit.jsonl \
    "ops/registry.v1.json.audit.jsonl.keys/$(printf rollout-7 | sha256sum | cut -c1-64).json")"
  assert_equal "$(canary)" 35
  run git --git-dir "$REMOTE" diff main~1 main -- ops/registry.v1.json
  assert_output --partial '+      "rollout": {"canaryPercent": 35'
  assert_output --partial '+        "actor": "alice"'
  # only the canary and the governance block changed in the registry
  run bash -c "git --git-dir '$REMOTE' diff -U0 main~1 main -- ops/registry.v1.json | grep '^[-+] ' |
    grep -v -E '\"(canaryPercent|actor|approvalRef|rationale|changedAt|reviewBy)\"'"
  assert_failure
  assert_equal "$(audit_records)" 1
  assert_equal "$(json_get "$T/artifacts/rollout-1001-1/orchestrate-result.json" 'd["verification"]["decision"]["decision"]')" promote

  # the job re-run (GitHub re-runs it at the commit it first ran at): the key is found on
  # the branch's tip, the run replays, no new commit
  RERUN=1 run rehearse workflow_dispatch promotion-rollout.yml --env GITHUB_RUN_ATTEMPT=2
  assert_success
  assert_equal "$(remote_log | wc -l)" 2
  assert_equal "$(json_get "$T/artifacts/rollout-1001-2/orchestrate-result.json" 'd["status"]')" replayed
  assert_equal "$(canary)" 35

  # the same key dispatched again at the new tip is another request (another subject):
  # refused as a conflict, nothing pushed
  RUN_ID=1003 run rehearse workflow_dispatch promotion-rollout.yml
  assert_failure
  assert_equal "$(remote_log | wc -l)" 2
  run json_get "$T/artifacts/rollout-1003-1/orchestrate-result.json" 'd["error"]["message"]'
  assert_output --partial 'idempotency key "rollout-7" was used for a different request'
}

@test "promotion-rollout apply with ROLLOUT_SIGNING_KEY: the decision is signed, the audit record keyed" {
  promotion_consumer
  ACT_EXTRA+=(--secret "ROLLOUT_SIGNING_KEY=0f1e2d3c4b5a69788796a5b4c3d2e1f0")
  inputs "{\"mode\": \"apply\", \"step\": 25, \"idempotency_key\": \"rollout-8\", $GOVERNANCE}"
  run rehearse workflow_dispatch promotion-rollout.yml
  assert_success
  assert_equal "$(canary)" 35
  run json_get "$T/artifacts/rollout-1001-1/decision.json" 'd["signature"][:12]'
  assert_output "hmac-sha256:"
  run bash -c "git --git-dir '$REMOTE' show main:ops/registry.v1.json.audit.jsonl | python3 -c 'import json,sys; print(json.loads(sys.stdin.readline())[\"mac\"][:12])'"
  assert_output "hmac-sha256:"
  # the same chain checked with the key, from a clone of what the workflow pushed
  git clone -q "$REMOTE" "$T/check"
  ROLLOUT_SIGNING_KEY=0f1e2d3c4b5a69788796a5b4c3d2e1f0 run policy-apply verify \
    --audit-log "$T/check/ops/registry.v1.json.audit.jsonl" --jq '[.ok, .keyed, .unkeyedRecords]' --compact
  assert_success
  assert_output '[true,true,0]'
}

@test "promotion-rollout apply without a key, review_in instead of a date: re-running the job replays" {
  promotion_consumer
  inputs '{"mode": "apply", "step": 25, "actor": "alice", "approval_ref": "CHG-1042", "rationale": "widen", "review_in": "14d"}'
  run rehearse workflow_dispatch promotion-rollout.yml
  assert_success
  assert_equal "$(canary)" 35
  git --git-dir "$REMOTE" show main:ops/registry.v1.json | grep -q '"reviewBy": "2026-12-05T08:00:00Z"'
  RERUN=1 run rehearse workflow_dispatch promotion-rollout.yml --env GITHUB_RUN_ATTEMPT=2
  assert_success
  assert_equal "$(json_get "$T/artifacts/rollout-1001-2/orchestrate-result.json" 'd["status"]')" replayed
  assert_equal "$(canary)" 35
  assert_equal "$(audit_records)" 1
  assert_equal "$(remote_log | wc -l)" 2
}

@test "promotion-rollout apply without governance: the job fails naming the flag, nothing is pushed" {
  promotion_consumer
  inputs '{"mode": "apply", "step": 25}'
  run rehearse workflow_dispatch promotion-rollout.yml
  assert_failure
  assert_equal "$(remote_log | wc -l)" 1
  assert_equal "$(json_get "$T/artifacts/rollout-1001-1/orchestrate-result.json" 'd["status"]')" failed
  run json_get "$T/artifacts/rollout-1001-1/orchestrate-result.json" 'd["error"]["message"]'
  # policy-apply --check's own words, before any stage ran
  assert_output 'policy-apply: error: governance is required for every intent: --actor, --approval-ref, --rationale and --review-by (or --review-in) are missing or empty'
  grep -q -- '--actor, --approval-ref, --rationale and --review-by (or --review-in) are missing or empty' "$SUMMARY"
}

@test "promotion-rollout apply against an unhealthy endpoint: rolled back, the command ran, the commit records it" {
  promotion_consumer
  ACT_EXTRA=(--secret "RUNTIME_HEALTH_URLS=$BASE/healthz,$BASE/status/500"
    --secret "RUNTIME_ROLLBACK_COMMAND=echo rolled back >> $T/rollback.log")
  inputs "{\"mode\": \"apply\", \"step\": 25, \"to_percent\": \"0\", $GOVERNANCE}"
  run rehearse workflow_dispatch promotion-rollout.yml
  assert_failure
  assert_equal "$(cat "$T/rollback.log")" "rolled back"
  assert_equal "$(json_get "$T/artifacts/rollout-1001-1/orchestrate-result.json" 'd["status"]')" rolled_back
  # the expand and its rollback, both committed
  assert_equal "$(remote_log | head -1)" "rollout: apply (run 1001)"
  assert_equal "$(audit_records)" 2
  assert_equal "$(canary)" 0
  grep -q 'endpoints_unhealthy\|runtime_health' "$SUMMARY"
}

@test "promotion-rollout rollback mode, and an explicit verify: false is honoured" {
  promotion_consumer
  ACT_EXTRA=(--secret "RUNTIME_HEALTH_URLS=$BASE/status/500"
    --secret "RUNTIME_ROLLBACK_COMMAND=echo rolled back >> $T/rollback.log")
  # verify off: the unhealthy endpoint is not probed, the expand stands
  inputs "{\"mode\": \"apply\", \"step\": 25, \"verify\": false, $GOVERNANCE}"
  run rehearse workflow_dispatch promotion-rollout.yml
  assert_success
  assert_equal "$(canary)" 35
  if [ -f "$SERVER_STATE/access.log" ]; then
    run grep -c '/status/500' "$SERVER_STATE/access.log"
    assert_output 0
  fi
  assert_equal "$(json_get "$T/artifacts/rollout-1001-1/orchestrate-result.json" 'd["verification"]')" null

  inputs "{\"mode\": \"rollback\", \"to_percent\": \"10\", $GOVERNANCE}"
  RUN_ID=1002 run rehearse workflow_dispatch promotion-rollout.yml
  assert_success
  assert_equal "$(remote_log | head -1)" "rollout: rollback (run 1002)"
  assert_equal "$(canary)" 10
  assert_equal "$(audit_records)" 2
  assert_equal "$(cat "$T/rollback.log")" "rolled back"
}

@test "promotion-rollout apply while someone else pushes to the branch: the registry change still lands, once" {
  promotion_consumer
  # between the apply and the persist step (the upload runs in between), a colleague pushes
  cat > "$T/interleave.sh" <<EOF
set -e
[ -e "$T/interleaved" ] && exit 0
touch "$T/interleaved"
git clone -q "$REMOTE" "$T/colleague"
echo "note" > "$T/colleague/NOTES.md"
git -C "$T/colleague" add NOTES.md
git -C "$T/colleague" commit -qm "docs: a colleague's note"
git -C "$T/colleague" push -q origin main
EOF
  ACT_EXTRA+=(--env STANDIN_AFTER_UPLOAD="$T/interleave.sh")
  inputs "{\"mode\": \"apply\", \"step\": 25, $GOVERNANCE}"
  run rehearse workflow_dispatch promotion-rollout.yml
  assert_success
  run remote_log
  assert_line --index 0 "rollout: apply (run 1001)"
  assert_line --index 1 "docs: a colleague's note"
  assert_equal "$(remote_log | wc -l)" 3
  assert_equal "$(canary)" 35
  assert_equal "$(audit_records)" 1
  git --git-dir "$REMOTE" show main:NOTES.md
}

# --- 2. digest-promote ---------------------------------------------------------------------

NEW_REVIEW=sha256:1111111111111111111111111111111111111111111111111111111111111111
NEW_FIX=sha256:2222222222222222222222222222222222222222222222222222222222222222
NEW_EXPLAIN=sha256:3333333333333333333333333333333333333333333333333333333333333333

promote_inputs() {
  inputs "{\"review_digest\": \"$NEW_REVIEW\", \"fix_digest\": \"$NEW_FIX\", \"explain_digest\": \"$NEW_EXPLAIN\", \"expect\": ${1:-9}}"
}

@test "digest-promote on a repository with no .rollout/: a PR branch changing exactly the pins and the ledger, body = summary" {
  new_consumer "$EX/pins"
  [ ! -e "$W/.rollout" ]
  promote_inputs 9
  run rehearse workflow_dispatch digest-promote.yml
  assert_success
  sha=$(git -C "$W" rev-parse HEAD)
  branch="promote/${sha::12}"
  assert_equal "$(remote_log "$branch" | head -1)" "promote runtime images to ${sha::12}"
  # every file holding a pin, outside .github/ too, plus the ledger; no lock file
  assert_equal "$(remote_files "$branch")" "$(printf '%s\n' .github/workflows/claude-apply-fix.yml \
    .github/workflows/claude-ci-failure.yml .github/workflows/claude-lint-failure.yml \
    .github/workflows/claude-tag-respond.yml .rollout/digests.jsonl deploy/kustomization.yaml \
    runtime/Dockerfile | sort)"
  run git --git-dir "$REMOTE" diff main "$branch" -- . ':!.rollout'
  assert_equal "$(grep -c '^+.*sha256:[123]\{64\}' <<<"$output")" 9
  assert_equal "$(grep -c '^-.*sha256:' <<<"$output")" 9
  git --git-dir "$REMOTE" show "$branch:.rollout/digests.jsonl" | grep -q "\"release\":\"$sha\""
  # the pull request: onto main, from the branch, its body the step's summary
  assert_equal "$(json_get "$FAKE_GH_STATE" 'd["prs"][0]["head"]')" "$branch"
  assert_equal "$(json_get "$FAKE_GH_STATE" 'd["prs"][0]["base"]')" main
  json_get "$FAKE_GH_STATE" 'd["prs"][0]["body"]' > "$T/pr-body.md"
  assert_equal "$(cat "$T/pr-body.md")" "$(cat "$T/artifacts/promote-1001/pin-summary.md")"
  grep -q 'claude-runtime-fix' "$T/pr-body.md"
  assert_equal "$(remote_log main | wc -l)" 1
}

@test "digest-promote with a wrong expect: the job fails, no branch is pushed, no PR" {
  new_consumer "$EX/pins"
  promote_inputs 8
  run rehearse workflow_dispatch digest-promote.yml
  assert_failure
  assert_equal "$(git --git-dir "$REMOTE" for-each-ref --format='%(refname)' refs/heads)" refs/heads/main
  assert_equal "$(json_get "$FAKE_GH_STATE" 'd.get("prs", [])')" "[]"
  run grep -c . "$FAKE_GH_LOG"
  assert_output 0
}

# --- 3. rollback ---------------------------------------------------------------------------

# rollback_consumer [REVISION [missing]]: the pins tree, promoted once to release $R1 (recorded in the
# ledger) and then to $R2, on main; $R1's three images are in a real registry
# (oci_registry.py, TLS and a password) with labels whose revision is REVISION (default $R1).
# The workflow asks it through ROLLOUT_REGISTRY_MIRRORS (ghcr.io=its front, which logs every
# request), with its credentials in DOCKER_CONFIG and its certificate in SSL_CERT_FILE. With
# "missing", the ledger records for review a digest the registry never held.
R1=1111111111111111111111111111111111111111
R2=2222222222222222222222222222222222222222
rollback_consumer() {
  python3 - "$TMP/seed.json" "${1:-$R1}" <<'PY'
import json, sys
labels = {"org.opencontainers.image.revision": sys.argv[2],
          "org.opencontainers.image.source": "https://github.com/glitchwerks/claude-runtime",
          "dev.glitchwerks.ci.private_ref": "ci-v0.1.0",
          "dev.glitchwerks.ci.private_sha": "a" * 40,
          "dev.glitchwerks.ci.marketplace_sha": "b" * 40,
          "dev.glitchwerks.ci.cli_version": "2.0.1"}
json.dump([{"ref": "glitchwerks/claude-runtime-%s:r1" % n, "labels": labels}
           for n in ("review", "fix", "explain")], open(sys.argv[1], "w"))
PY
  start_registry --seed "$TMP/seed.json"
  local d=$REGISTRY_STATE/digests.json review
  review=$(jq -r '."glitchwerks/claude-runtime-review:r1"' "$d")
  [ "${2:-}" != missing ] || review=sha256:eeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeee
  new_consumer "$EX/pins"
  (
    cd "$W"
    digest-pin --root . --record --ledger .rollout/digests.jsonl --release "$R1" \
      --set claude-runtime-review="$review" \
      --set claude-runtime-fix="$(jq -r '."glitchwerks/claude-runtime-fix:r1"' "$d")" \
      --set claude-runtime-explain="$(jq -r '."glitchwerks/claude-runtime-explain:r1"' "$d")" >/dev/null
    digest-pin --root . --record --ledger .rollout/digests.jsonl --release "$R2" \
      --set claude-runtime-review="$NEW_REVIEW" --set claude-runtime-fix="$NEW_FIX" \
      --set claude-runtime-explain="$NEW_EXPLAIN" >/dev/null
    rm -f .rollout/*.lock
    git add -A && git commit -qm "release $R2" && git push -q origin main
  )
  ACT_EXTRA+=(--var "ROLLOUT_REGISTRY_MIRRORS=ghcr.io=$REGISTRY_FRONT"
              --env "DOCKER_CONFIG=$TMP/docker" --env "SSL_CERT_FILE=$REGISTRY_STATE/cert.pem")
}

# manifests_asked: the distinct manifests the registry was asked for, one per line
manifests_asked() {
  grep -o 'GET /v2/[^ ]*/manifests/[^ ]*' "$REGISTRY_STATE/front.log" 2>/dev/null | sort -u
}

@test "rollback: a release in the ledger whose images carry its revision: a PR restoring its digests" {
  rollback_consumer
  inputs "{\"release\": \"$R1\"}"
  run rehearse workflow_dispatch rollback.yml
  assert_success
  branch="rollback/${R1::12}-1001"
  assert_equal "$(remote_log "$branch" | head -1)" "roll back runtime images to ${R1::12}"
  # the tree is back at release 1's digests; the ledger gained the rollback
  run git --git-dir "$REMOTE" diff main "$branch" -- . ':!.rollout'
  assert_equal "$(grep -c '^+.*sha256:' <<<"$output")" 9
  run git --git-dir "$REMOTE" diff "$branch~1" "$branch" --name-only
  assert_line .rollout/digests.jsonl
  refute_line --partial .lock
  # each image was asked for by its digest and gated: 3 images, no more, and no layer
  # fetched (the only blobs read are the 3 image configs)
  assert_equal "$(manifests_asked | wc -l)" 3
  assert_equal "$(manifests_asked | grep -c '/manifests/sha256:')" 3
  assert_equal "$(grep -o 'GET /v2/[^ ]*/blobs/[^ ]*' "$REGISTRY_STATE/front.log" | sort -u | wc -l)" 3
  assert_equal "$(json_get "$FAKE_GH_STATE" 'd["prs"][0]["head"]')" "$branch"
}

@test "rollback: a retagged image (revision label mismatch) is refused before any branch" {
  rollback_consumer 9999999999999999999999999999999999999999
  inputs "{\"release\": \"$R1\"}"
  run rehearse workflow_dispatch rollback.yml
  assert_failure
  assert_equal "$(git --git-dir "$REMOTE" for-each-ref --format='%(refname)' refs/heads)" refs/heads/main
  assert_equal "$(json_get "$FAKE_GH_STATE" 'd.get("prs", [])')" "[]"
  # the first image held the run: the others were not asked for
  assert_equal "$(manifests_asked | wc -l)" 1
}

@test "rollback: a recorded digest the registry does not hold is refused before any branch" {
  rollback_consumer "$R1" missing
  inputs "{\"release\": \"$R1\"}"
  run rehearse workflow_dispatch rollback.yml
  assert_failure
  grep -q 'has no manifest sha256:eeeeeeeeeeee' "$T/act-rollback.yml.log"
  assert_equal "$(git --git-dir "$REMOTE" for-each-ref --format='%(refname)' refs/heads)" refs/heads/main
  assert_equal "$(json_get "$FAKE_GH_STATE" 'd.get("prs", [])')" "[]"
}

@test "rollback: an image without a label the project requires (ROLLOUT_REQUIRED_LABELS) is refused" {
  rollback_consumer
  inputs "{\"release\": \"$R1\"}"
  ACT_EXTRA+=(--var "ROLLOUT_REQUIRED_LABELS=org.opencontainers.image.revision,dev.glitchwerks.ci.cli_version,dev.acme.ci.pipeline")
  run rehearse workflow_dispatch rollback.yml
  assert_failure
  # the decision names the one label the images lack (the others pass), and no other reason
  grep -q -F '**oci_labels**: `label_missing_dev_acme_ci_pipeline`' "$SUMMARY"
  grep -q -F '`label_missing_dev_glitchwerks_ci_cli_version` | pass' "$SUMMARY"
  grep -q -F '`revision_label_mismatch` | pass' "$SUMMARY"
  assert_equal "$(git --git-dir "$REMOTE" for-each-ref --format='%(refname)' refs/heads)" refs/heads/main
  assert_equal "$(json_get "$FAKE_GH_STATE" 'd.get("prs", [])')" "[]"
}

@test "rollback: an unknown release is refused; a malformed release id at the first step" {
  rollback_consumer
  inputs '{"release": "3333333333333333333333333333333333333333"}'
  run rehearse workflow_dispatch rollback.yml
  assert_failure
  assert_equal "$(git --git-dir "$REMOTE" for-each-ref --format='%(refname)' refs/heads)" refs/heads/main
  assert_equal "$(manifests_asked | wc -l)" 0

  : > "$STANDIN_LOG"
  inputs '{"release": "main; rm -rf /"}'
  RUN_ID=1002 run rehearse workflow_dispatch rollback.yml
  assert_failure
  # stopped before the checkout: no step after the shape check ran
  run grep -c . "$STANDIN_LOG"
  assert_output 0
  assert_equal "$(git --git-dir "$REMOTE" for-each-ref --format='%(refname)' refs/heads)" refs/heads/main
}

# --- 4. prune ------------------------------------------------------------------------------

PKG=/orgs/glitchwerks/packages/container/claude-runtime-review
PINNED=sha256:776980ed9009fe17dfdb782960978bd573842dc867728bd4e63d734871cdeef1
OLD_RELEASE_DIGEST=sha256:d13c4af8db795f77bc3af68fc8eca53ea3283748fe53595ab239a8a4ed4500c1

# prune_consumer [EXTRA]: the pins tree in glitchwerks/runtime; the registry stand-in serves
# the example listing plus EXTRA more old pending-* builds
prune_consumer() {
  CONSUMER=glitchwerks/runtime
  new_consumer "$EX/pins"
  prune_state "${1:-0}"
}

prune_state() {
  registry_state "$EX/prune/versions.json" "$PKG" "${1:-0}" > "$FAKE_GH_STATE"
}

deleted_ids() {
  python3 - "$FAKE_GH_LOG" <<'PY'
import json, sys
print("\n".join(sorted(json.loads(l)[-1].rsplit("/", 1)[1] for l in open(sys.argv[1]) if '"DELETE"' in l)))
PY
}

@test "prune: a scheduled run writes the plan and calls no DELETE" {
  prune_consumer
  run rehearse schedule prune.yml
  assert_success
  assert_equal "$(json_get "$T/artifacts/prune-plan-1001/plan.json" 'd["summary"]["delete"]')" 32
  assert_equal "$(grep -c '"DELETE"' "$FAKE_GH_LOG" || true)" 0
  grep -q '"--paginate"' "$FAKE_GH_LOG"
}

@test "prune: dispatched with dry_run false, exactly the planned DELETEs; pinned and ledger digests survive" {
  prune_consumer
  # the ledger records an older release whose digest a rollback may return to
  (
    cd "$W"
    digest-pin --root . --record --ledger .rollout/digests.jsonl --release "$R1" --allow-missing runtime \
      --set claude-runtime-review="$OLD_RELEASE_DIGEST" >/dev/null
    digest-pin --root . --record --ledger .rollout/digests.jsonl --release "$R2" --allow-missing runtime \
      --set claude-runtime-review="$PINNED" >/dev/null
    git add .rollout/digests.jsonl && git commit -qm "ledger" && git push -q origin main
  )
  inputs '{"dry_run": false}'
  run rehearse workflow_dispatch prune.yml
  assert_success
  plan="$T/artifacts/prune-plan-1001/plan.json"
  assert_equal "$(deleted_ids)" "$(json_get "$plan" '"\n".join(sorted(str(v["id"]) for v in d["packages"][0]["delete"]))')"
  assert_equal "$(deleted_ids | wc -l)" 31
  # the digest the tree pins is kept, and still in the registry
  assert_equal "$(json_get "$plan" 'sorted(k["digest"] for k in d["packages"][0]["keep"] if k["reason"] == "protected_digest")')" "[\"$PINNED\", \"$OLD_RELEASE_DIGEST\"]"
  json_get "$FAKE_GH_STATE" "[v['name'] for v in d['$PKG']]" | grep -q "$PINNED"
  assert_equal "$(json_get "$plan" '[k["reason"] for k in d["packages"][0]["keep"] if k["digest"] == "'"$OLD_RELEASE_DIGEST"'"]')" '["protected_digest"]'
  json_get "$FAKE_GH_STATE" "[v['name'] for v in d['$PKG']]" | grep -q "$OLD_RELEASE_DIGEST"
}

@test "prune: an explicit dry_run true deletes nothing; more candidates than the threshold fails with no DELETE" {
  prune_consumer
  inputs '{"dry_run": true}'
  run rehearse workflow_dispatch prune.yml
  assert_success
  assert_equal "$(grep -c '"DELETE"' "$FAKE_GH_LOG" || true)" 0

  # the same repository, 30 more old builds in the registry: 62 candidates, over --max-delete 50
  : > "$FAKE_GH_LOG"
  CONSUMER=glitchwerks/runtime
  prune_state 30
  inputs '{"dry_run": false}'
  RUN_ID=1002 run rehearse workflow_dispatch prune.yml
  assert_failure
  assert_equal "$(grep -c '"DELETE"' "$FAKE_GH_LOG" || true)" 0
}

# --- 5. freshness --------------------------------------------------------------------------

# freshness_consumer: the private upstream acme/private (pinned at ci-v0.1.0, then two
# commits on imported paths and one elsewhere) and the consumer's CI manifest importing it
freshness_consumer() {
  up="$T/upstream"
  git init -q "$up"
  commit_at() {
    mkdir -p "$(dirname "$up/$2")"
    echo "$3" >> "$up/$2"
    git -C "$up" add -A
    GIT_AUTHOR_DATE=$1 GIT_COMMITTER_DATE=$1 git -C "$up" commit -qm "$3"
  }
  commit_at 2026-10-01T00:00:00Z skills/git/SKILL.md release
  git -C "$up" tag ci-v0.1.0
  commit_at 2026-10-05T00:00:00Z docs/README.md "docs: typo"
  commit_at 2026-10-10T00:00:00Z skills/git/SKILL.md "skills/git: safer rebase advice"
  commit_at 2026-10-20T00:00:00Z CLAUDE.md "CLAUDE.md: new review rule"
  git init -q --bare "$T/remotes/acme/private.git"
  git -C "$up" push -q --tags "$T/remotes/acme/private.git" main
  mkdir -p "$T/manifest/runtime"
  cat > "$T/manifest/runtime/ci-manifest.yaml" <<'YAML'
private_ref: ci-v0.1.0
shared:
  imports_from_private:
    skills: [git]
    claude_md: CLAUDE.md
YAML
  new_consumer "$T/manifest"
  ACT_EXTRA=(--var PRIVATE_REPOSITORY=acme/private --secret PRIVATE_REPOSITORY_TOKEN=ghp_rehearsal)
}

@test "freshness: stale opens one issue; the next run finds it by dedupeKey and updates it; fresh again closes it" {
  freshness_consumer
  run rehearse schedule freshness.yml
  assert_success
  assert_equal "$(json_get "$FAKE_GH_STATE" 'len(d["issues"])')" 1
  assert_equal "$(json_get "$FAKE_GH_STATE" 'd["issues"][0]["title"]')" "Stale pinned ref: ci-v0.1.0 in https://github.com/acme/private"
  json_get "$FAKE_GH_STATE" 'd["issues"][0]["body"]' | grep -q '2 commit(s) ahead'
  # the private repository was checked out whole, with its tags, without persisted credentials
  run json_get "$STANDIN_LOG" 'd["repository"] + " " + str(d["fetchDepth"]) + " " + str(d["persistCredentials"])'
  assert_line "acme/private 0 False"

  # a week later, one more commit upstream: the same issue is found again and updated
  commit_at 2026-11-01T00:00:00Z skills/git/SKILL.md "skills/git: more"
  git -C "$up" push -q "$T/remotes/acme/private.git" main
  RUN_ID=1002 run rehearse schedule freshness.yml
  assert_success
  assert_equal "$(json_get "$FAKE_GH_STATE" 'len(d["issues"])')" 1
  json_get "$FAKE_GH_STATE" 'd["issues"][0]["body"]' | grep -q '3 commit(s) ahead'
  grep -q '"edit", "1"' "$FAKE_GH_LOG"

  # the pin moves to the upstream's head: fresh, and the tracker issue is closed
  git -C "$up" tag ci-v0.2.0
  git -C "$up" push -q --tags "$T/remotes/acme/private.git"
  sed -i 's/^private_ref: .*/private_ref: ci-v0.2.0/' "$W/runtime/ci-manifest.yaml"
  git -C "$W" commit -qam "pin ci-v0.2.0" && git -C "$W" push -q origin main
  RUN_ID=1003 run rehearse schedule freshness.yml
  assert_success
  assert_equal "$(json_get "$FAKE_GH_STATE" 'd["issues"][0]["state"]')" closed
  assert_equal "$(json_get "$FAKE_GH_STATE" 'd["issues"][0]["comments"]')" '["Fresh again (run 1003)."]'
  assert_equal "$(json_get "$FAKE_GH_STATE" 'len(d["issues"])')" 1
}

# --- 6. gate-only --------------------------------------------------------------------------

@test "gate-only: healthy passes; one unhealthy URL fails with the reason in the summary" {
  new_consumer
  start_health_server
  inputs '{"mode": "gate_only"}'
  run rehearse workflow_dispatch gate-only.yml --secret "RUNTIME_HEALTH_URLS=$BASE/healthz"
  assert_success
  assert_equal "$(json_get "$T/artifacts/gate-only-1001/gate-decision.json" 'd["summary"]["decision"]')" promote

  : > "$SUMMARY"
  RUN_ID=1002 run rehearse workflow_dispatch gate-only.yml \
    --secret "RUNTIME_HEALTH_URLS=$BASE/healthz,$BASE/status/500"
  assert_failure
  assert_equal "$(json_get "$T/artifacts/gate-only-1002/gate-decision.json" 'd["summary"]["decision"]')" hold
  grep -q 'HOLD' "$SUMMARY"
  grep -q 'runtime_health_endpoint_unhealthy\|unhealthy' "$SUMMARY"
  grep -q '/status/500' "$SUMMARY"
}

# --- 7. fleet-tag, 8. rollout-tag ----------------------------------------------------------

# flux_server N: a Flux repository with N services (svc-01..svc-NN, each its own
# kustomization) behind the loopback HTTPS git server; sets FLUX_URL, FLUX_BARE
flux_server() {
  local seed="$T/flux-seed"
  python3 - "$seed" "$1" <<'PY'
import json, os, sys
seed, n = sys.argv[1], int(sys.argv[2])
services, groups = {}, {}
for i in range(1, n + 1):
    name = f"svc-{i:02d}"
    os.makedirs(f"{seed}/apps/{name}")
    with open(f"{seed}/apps/{name}/kustomization.yaml", "w") as f:
        f.write(f"kind: Kustomization\nresources:\n  - deployment.yaml\nimages:\n"
                f"  - name: {name}\n    newName: ghcr.io/acme/{name}\n    newTag: v1.0.0\n")
    services[name] = {"imageGroup": name}
    groups[name] = {"file": f"apps/{name}/kustomization.yaml", "imageName": name,
                    "type": "kustomize-images"}
with open(f"{seed}/services.json", "w") as f:
    json.dump({"services": services, "imageGroups": groups}, f, indent=2)
PY
  git init -q "$seed"
  git -C "$seed" add -A
  git -C "$seed" commit -qm "flux as deployed"
  mkdir -p "$T/srv"
  FLUX_BARE="$T/srv/flux.git"
  git clone -q --bare "$seed" "$FLUX_BARE"
  python3 "$ROOT/tests/support/git_https_server.py" --root "$T/srv" --state "$T/git-state" \
    --token flux-token-0451 2>"$T/git-server.err" &
  GIT_SERVER_PID=$!
  for _ in $(seq 100); do [ -s "$T/git-state/port" ] && break; sleep 0.1; done
  FLUX_URL="https://127.0.0.1:$(cat "$T/git-state/port")/flux.git"
}

@test "fleet-tag: 12 services tagged by 12 jobs at once, each tag lands exactly once, history linear" {
  new_consumer
  flux_server 12
  inputs "$(python3 -c 'import json; print(json.dumps({"services": json.dumps(["svc-%02d" % i for i in range(1, 13)]), "tag": "v2.0.0"}))')"
  run rehearse workflow_dispatch fleet-tag.yml --concurrent-jobs 12 \
    --var "FLUX_REPOSITORY=$FLUX_URL" --secret FLUX_TOKEN=flux-token-0451 \
    --env SSL_CERT_FILE="$T/git-state/cert.pem"
  assert_success
  # 12 new commits on one line of history, one per service
  assert_equal "$(git --git-dir "$FLUX_BARE" rev-list --count main)" 13
  assert_equal "$(git --git-dir "$FLUX_BARE" rev-list --merges --count main)" 0
  for i in $(seq -w 1 12); do
    git --git-dir "$FLUX_BARE" show "main:apps/svc-$i/kustomization.yaml" | grep -q '^    newTag: v2.0.0$'
    assert_equal "$(git --git-dir "$FLUX_BARE" log --format=%s main | grep -c "(svc-$i):")" 1
  done
  assert_equal "$(ls "$T/artifacts" | grep -c '^bump-svc-')" 12
  # the token reached the server only as credentials: not in a report, not in the repository
  run grep -rq flux-token-0451 "$T/artifacts"
  assert_failure
  run bash -c "git --git-dir '$FLUX_BARE' log -p main | grep -q flux-token-0451"
  assert_failure
}

@test "rollout-tag: pr-<N>-<sha7> into the environment's Flux repository; a dry run pushes nothing" {
  flux_server 2
  mkdir -p "$T/envs/.rollout"
  printf '{"environments": {"staging": {"fluxRepo": "%s", "type": "github"}}}\n' "$FLUX_URL" \
    > "$T/envs/.rollout/environments.json"
  new_consumer "$T/envs"
  before=$(git --git-dir "$FLUX_BARE" rev-parse main)
  ACT_EXTRA=(--secret FLUX_TOKEN=flux-token-0451 --env SSL_CERT_FILE="$T/git-state/cert.pem")
  inputs '{"services": "svc-01 svc-02", "environment": "staging", "pr": 42, "sha": "a1b2c3d4e5f60718293a4b5c6d7e8f9012345678", "dry_run": true}'
  run rehearse workflow_dispatch rollout-tag.yml
  assert_success
  assert_equal "$(git --git-dir "$FLUX_BARE" rev-parse main)" "$before"
  grep -q '^+    newTag: pr-42-a1b2c3d$' "$T/artifacts/rollout-tag-1001/rollout-tag.diff"
  grep -q '^+    newTag: pr-42-a1b2c3d$' "$SUMMARY"

  inputs '{"services": "svc-01 svc-02", "environment": "staging", "pr": 42, "sha": "a1b2c3d4e5f60718293a4b5c6d7e8f9012345678"}'
  RUN_ID=1002 run rehearse workflow_dispatch rollout-tag.yml
  assert_success
  assert_equal "$(git --git-dir "$FLUX_BARE" rev-list --count main)" 2
  assert_equal "$(json_get "$T/artifacts/rollout-tag-1002/rollout-tag.json" 'd["push"]["pushed"]')" true
  for s in svc-01 svc-02; do
    git --git-dir "$FLUX_BARE" show "main:apps/$s/kustomization.yaml" | grep -q '^    newTag: pr-42-a1b2c3d$'
  done

  # a service name that is an option is refused before rollout-tag runs
  inputs '{"services": "--dry-run svc-01", "environment": "staging", "pr": 43, "sha": "b1b2c3d4e5f60718293a4b5c6d7e8f9012345678"}'
  RUN_ID=1003 run rehearse workflow_dispatch rollout-tag.yml
  assert_failure
  assert_equal "$(git --git-dir "$FLUX_BARE" rev-list --count main)" 2
}

# --- the setup action's own build path -----------------------------------------------------

@test "setup-rollout-tools builds from a pinned commit outside the workspace: digest-promote counts 9, not the toolkit's pins" {
  toolkit_repo
  ref=$(git -C "$src" rev-parse HEAD)
  new_consumer "$EX/pins"
  promote_inputs 9
  # a debug build into the suite's own target dir: the build path runs whole, in seconds
  TOOLS_BIN="" run rehearse workflow_dispatch digest-promote.yml \
    --var ROLLOUT_TOOLS_REPOSITORY=acme/rollout-tools --var ROLLOUT_TOOLS_REF="$ref" \
    --env CARGO_TARGET_DIR="$ROOT/target" --env BUILD_PROFILE=dev \
    --env CARGO_HOME="$REAL_CARGO_HOME" --env RUSTUP_HOME="$REAL_RUSTUP_HOME"
  assert_success
  # the toolkit was checked out at the pinned commit and installed into the tool cache
  # (act keeps it under its HOME), and the build saved under the commit
  case "$(uname -m)" in x86_64) arch=X64 ;; aarch64) arch=ARM64 ;; esac
  prefix="$HOME/.cache/act/tool_cache/rollout-tools/$ref/${arch,,}"
  run json_get "$STANDIN_LOG" 'd.get("repository", "") + " " + d.get("ref", "") + " " + d.get("path", "")'
  assert_line "acme/rollout-tools $ref .rollout-tools"
  [ -x "$prefix/bin/digest-pin" ]
  [ -f "$prefix/share/man/man1/digest-pin.1" ]
  run json_get "$STANDIN_LOG" 'd["action"] + " " + d.get("key", "") + " " + str(d.get("hit", d.get("saved", "")))'
  assert_line "cache-restore rollout-tools-Linux-$arch-$ref False"
  assert_line "cache-save rollout-tools-Linux-$arch-$ref True"
  sha=$(git -C "$W" rev-parse HEAD)
  assert_equal "$(json_get "$T/artifacts/promote-1001/pin-report.json" 'd["changed"]')" 9
  run git --git-dir "$REMOTE" show --name-only --format= "promote/${sha::12}"
  refute_line --partial .rollout-tools

  # the next run of the same ref (for a new commit of the consumer) takes the build from the
  # cache: no checkout, no build (CARGO=false would fail one)
  rm -rf "$prefix"
  git -C "$W" commit -q --allow-empty -m "consumer: again"
  git -C "$W" push -q origin main
  : > "$STANDIN_LOG"
  TOOLS_BIN="" RUN_ID=1003 run rehearse workflow_dispatch digest-promote.yml \
    --var ROLLOUT_TOOLS_REPOSITORY=acme/rollout-tools --var ROLLOUT_TOOLS_REF="$ref" \
    --env CARGO=false
  assert_success
  run json_get "$STANDIN_LOG" 'd["action"] + " " + str(d.get("hit", "")) + " " + d.get("repository", "")'
  assert_line "cache-restore True "
  refute_line --partial "acme/rollout-tools"
  [ -x "$prefix/bin/digest-pin" ]

  # a branch or tag as ref is refused before anything is checked out or built
  : > "$STANDIN_LOG"
  TOOLS_BIN="" RUN_ID=1002 run rehearse workflow_dispatch digest-promote.yml \
    --var ROLLOUT_TOOLS_REPOSITORY=acme/rollout-tools --var ROLLOUT_TOOLS_REF=main
  assert_failure
  run grep -c rollout-tools "$STANDIN_LOG"
  assert_output 0
}

# --- the setup action's release path -------------------------------------------------------

# release_server DIR: a loopback HTTP server for DIR (the releases: vVERSION/NAME); sets
# RELEASES (its URL) and RELEASES_LOG (the requests it served)
release_server() {
  RELEASES_LOG="$T/releases.log"
  python3 -u -m http.server 0 --bind 127.0.0.1 --directory "$1" > "$T/releases.out" 2> "$RELEASES_LOG" 3>&- &
  RELEASES_PID=$!
  local port=""
  for _ in $(seq 100); do
    port=$(sed -n 's/.* port \([0-9]*\) .*/\1/p' "$T/releases.out")
    [ -n "$port" ] && break
    sleep 0.1
  done
  RELEASES="http://127.0.0.1:$port"
}

@test "setup-rollout-tools installs a release only when both checksums match, from the tool cache the next time" {
  new_consumer
  # the runner's platform as the action names it (Linux, RUNNER_ARCH X64 or ARM64)
  case "$(uname -m)" in
    x86_64) target=x86_64-unknown-linux-gnu arch=x64 ;;
    aarch64) target=aarch64-unknown-linux-gnu arch=arm64 ;;
  esac
  name="rollout-tools-0.1.0-$target"
  # the release: an archive in make dist's layout whose programs are this suite's own
  mkdir -p "$T/pkg/$name/bin" "$T/releases/v0.1.0"
  for p in gate-eval policy-apply digest-pin tag-bump prune-plan health-probe freshness-check image-resolve; do
    ln -s "${ROLLOUT_BIN:-$ROOT/target/debug}/$p" "$T/pkg/$name/bin/$p"
  done
  for p in rollout-orchestrate rollout-gate-config rollout-tag rollout-lib.sh; do
    ln -s "$ROOT/bin/$p" "$T/pkg/$name/bin/$p"
  done
  tar -C "$T/pkg" -czf "$T/releases/v0.1.0/$name.tar.gz" "$name"
  good=$(sha256sum "$T/releases/v0.1.0/$name.tar.gz" | cut -d' ' -f1)
  echo "$good  $name.tar.gz" > "$T/releases/v0.1.0/SHA256SUMS"
  # the consumer's copy of the action pins it, as the action does once a release is out
  cat "$T/releases/v0.1.0/SHA256SUMS" >> "$W/.github/actions/setup-rollout-tools/SHA256SUMS"
  cat > "$W/.github/workflows/setup.yml" <<'YML'
name: setup
on: workflow_dispatch
jobs:
  setup:
    runs-on: ubuntu-24.04
    steps:
      - uses: actions/checkout@11bd71901bbe5b1630ceea73d27597364c9af683 # v4.2.2
      - id: setup
        uses: ./.github/actions/setup-rollout-tools
        with:
          version: ${{ vars.ROLLOUT_TOOLS_VERSION }}
          download-base: ${{ vars.ROLLOUT_TOOLS_DOWNLOAD_BASE }}
      - env:
          INSTALLED: ${{ steps.setup.outputs.version }}
        run: |
          { echo "$INSTALLED"; command -v gate-eval; tag-bump --version; } > "$PROBE_OUT"
YML
  git -C "$W" add -A
  git -C "$W" commit -qm "setup rehearsal"
  git -C "$W" push -q origin main
  release_server "$T/releases"
  # act keeps the runner's tool cache (RUNNER_TOOL_CACHE) under its HOME
  cache="$HOME/.cache/act/tool_cache"
  setup_run() {
    rm -f "$T/probe.txt"
    TOOLS_BIN="" run rehearse workflow_dispatch setup.yml \
      --var ROLLOUT_TOOLS_DOWNLOAD_BASE="$RELEASES" --env PROBE_OUT="$T/probe.txt" "$@"
  }

  setup_run --var ROLLOUT_TOOLS_VERSION=v0.1.0
  kill "$RELEASES_PID"
  assert_success
  run cat "$T/probe.txt"
  assert_line --index 0 0.1.0
  assert_line --index 1 "$cache/rollout-tools/0.1.0/$arch/bin/gate-eval"
  assert_line --index 2 --regexp '^tag-bump [0-9]'
  [ -f "$cache/rollout-tools/0.1.0/$arch.complete" ]
  # the next job on this runner finds it in the tool cache: the server is gone
  setup_run --var ROLLOUT_TOOLS_VERSION=0.1.0
  assert_success
  assert_equal "$(sed -n 2p "$T/probe.txt")" "$cache/rollout-tools/0.1.0/$arch/bin/gate-eval"

  # each refusal says why in one line and installs nothing (the tool cache emptied first)
  release_server "$T/releases"
  refused() {
    local message=$1
    shift
    rm -rf "$cache/rollout-tools"
    : > "$SUMMARY"
    setup_run "$@"
    assert_failure
    run cat "$SUMMARY"
    assert_output "setup-rollout-tools: $message"
    [ ! -e "$cache/rollout-tools" ]
    [ ! -e "$T/probe.txt" ]
  }
  # a tampered archive, which the release's SHA256SUMS was changed to match
  cp "$T/releases/v0.1.0/$name.tar.gz" "$T/good.tar.gz"
  printf 'x' >> "$T/releases/v0.1.0/$name.tar.gz"
  bad=$(sha256sum "$T/releases/v0.1.0/$name.tar.gz" | cut -d' ' -f1)
  echo "$bad  $name.tar.gz" > "$T/releases/v0.1.0/SHA256SUMS"
  refused "$name.tar.gz has SHA-256 $bad, not $good as this action pins it; refusing to install (a tampered or re-published archive)" \
    --var ROLLOUT_TOOLS_VERSION=0.1.0
  # the pinned archive, but the release's SHA256SUMS says otherwise
  cp "$T/good.tar.gz" "$T/releases/v0.1.0/$name.tar.gz"
  echo "$bad  $name.tar.gz" > "$T/releases/v0.1.0/SHA256SUMS"
  refused "the release's SHA256SUMS lists $bad for $name.tar.gz, not $good; refusing to install" \
    --var ROLLOUT_TOOLS_VERSION=0.1.0
  # a version the action pins nothing for: nothing is downloaded
  : > "$RELEASES_LOG"
  refused "unknown version 9.9.9: this action pins no SHA-256 for rollout-tools-9.9.9-$target.tar.gz (it knows: 0.1.0); update the action, or set ref to build from source" \
    --var ROLLOUT_TOOLS_VERSION=9.9.9
  run grep -c GET "$RELEASES_LOG"
  assert_output 0
  # a platform there is no archive for
  refused "no release archive for Linux/ARM (there are Linux and macOS, X64 and ARM64); set ref to build from source" \
    --var ROLLOUT_TOOLS_VERSION=0.1.0 --env STANDIN_RUNNER_ARCH=ARM
  kill "$RELEASES_PID"
}

# --- the project's own release workflow ---------------------------------------------------

@test "release.yml: its Linux build job makes the archive of the tag under act, the same as make dist here" {
  # the toolkit as it is under test, as acme/rollout-tools, tagged with its version
  version=$(sed -n '/^\[workspace\.package\]/,/^\[/s/^version = "\(.*\)"$/\1/p' "$ROOT/Cargo.toml")
  target=$(PATH="$REAL_CARGO_HOME/bin:$PATH" RUSTUP_HOME="$REAL_RUSTUP_HOME" rustc -vV | sed -n 's/^host: //p')
  toolkit_repo "v$version"
  git -C "$src" remote add origin https://github.com/acme/rollout-tools
  echo "{\"ref\": \"refs/tags/v$version\", \"repository\": {\"full_name\": \"acme/rollout-tools\"}}" > "$T/event.json"
  # make dist's build directory (/tmp/rollout-tools-dist) is shared, and the suite's target
  # directory serves the job's xtask (completions): nothing is built again
  W="$src" RERUN=1 ACT_TIMEOUT=1500 run rehearse push release.yml -j build \
    --matrix target:"$target" --env CARGO_TARGET_DIR="${ROLLOUT_BIN:-$ROOT/target/debug}/.." \
    --env CARGO_HOME="$REAL_CARGO_HOME" --env RUSTUP_HOME="$REAL_RUSTUP_HOME"
  assert_success
  archive="$T/artifacts/dist-$target/rollout-tools-$version-$target.tar.gz"
  [ -s "$archive" ]
  # what a user unpacks is what make dist makes from the same tree in this checkout
  run env CARGO_HOME="$REAL_CARGO_HOME" RUSTUP_HOME="$REAL_RUSTUP_HOME" \
    make -s -C "$ROOT" dist DIST_DIR="$T/local-dist"
  assert_success
  mkdir -p "$T/ci" "$T/local"
  tar -xzf "$archive" -C "$T/ci"
  tar -xzf "$T/local-dist/rollout-tools-$version-$target.tar.gz" -C "$T/local"
  run diff -r "$T/ci" "$T/local"
  assert_success
}

# --- the README's rehearsal, as written --------------------------------------------------

@test "examples/github/README.md 'Rehearse before you merge': the commands work as written" {
  repo="$T/yours"
  mkdir -p "$repo/.github/workflows" "$repo/.github/actions"
  cp "$EX/github/workflows/promotion-rollout.yml" "$repo/.github/workflows/"
  cp -r "$EX/github/actions/setup-rollout-tools" "$repo/.github/actions/"
  cp -r "$FX/workflows/." "$repo/"
  git init -q "$repo"
  git -C "$repo" add -A
  git -C "$repo" commit -qm "yours"
  # the block of the section, with only the repository's path filled in
  python3 - "$EX/github/README.md" "$repo" > "$T/rehearse.sh" <<'PY'
import re, sys
text = open(sys.argv[1]).read()
section = text.split("## Rehearse before you merge", 1)[1]
block = re.search(r"```sh\n(.*?)```", section, re.S).group(1)
assert "cd /path/to/your/repository" in block
print(block.replace("cd /path/to/your/repository", "cd " + sys.argv[2]))
PY
  run bash -e "$T/rehearse.sh"
  assert_success
  assert_output --partial "## Rollout orchestration: preview"
  assert_output --partial "orchestrate-result.json"
  # the throwaway HOME was used, and the developer's repository is as it was
  run git -C "$repo" remote
  assert_output ""
  assert_equal "$(git -C "$repo" status --porcelain)" ""
}
