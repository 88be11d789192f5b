#!/usr/bin/env bash
# The main job on the embedded example: decide whether the payments-api canary may widen,
# widen it under governance, promote and roll back pinned image digests, then bump a
# service's tag in a Flux repository and push it, and plan a registry clean-up that keeps
# every image the repository pins or may roll back to; gather the two kinds of evidence the
# gates read from the outside world (runtime health, upstream freshness); run the whole
# rollout with rollout-orchestrate; last, ask a registry for digests, labels and tags.
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
echo "== 7. digest-pin: promote three runtime images in the workflow tree (examples/pins), counted"
cp -r "$here/../pins" "$out/pins"
pins=(--root "$out/pins")
ledger="$out/digests.jsonl"
echo "-- first record the release that runs today, so a rollback can name it:"
digest-pin "${pins[@]}" --record --ledger "$ledger" --release 2026.11.0 \
  --set claude-runtime-review=sha256:776980ed9009fe17dfdb782960978bd573842dc867728bd4e63d734871cdeef1 \
  --set claude-runtime-fix=sha256:da2b6e52ad20159252cb6f24147d4ece221182dbb0b21df9fb32966126e24a20 \
  --set claude-runtime-explain=sha256:23dd59f2651ebc9aba93b5c143d5b78d256c8abe1ebf970ad9c218f6aa06ff77 \
  --jq '"release \(.release): \(.total) pins, \(.changed) changed, ledger record \(.ledger.seq)"'
echo "-- promote the new build (uppercase digests are normalised), exactly 9 pins, 4 of fix:"
digest-pin "${pins[@]}" --record --ledger "$ledger" --release 2026.11.1 --expect 9 \
  --expect-image claude-runtime-fix=4 --summary "$out/pins-summary.md" \
  --set claude-runtime-review=0E5751C026E543B2E8AB2EB06099DAA1D1E5DF47778F7787FAAB45CDF12FE3A8 \
  --set claude-runtime-fix=sha256:7d865e959b2466918c9863afca942d0fb89d7c9ac0c99bafc3749504ded97730 \
  --set claude-runtime-explain=sha256:2c624232cdd221771294dfbb310aca000a0df6ac8b66b696d90ef06fdefb64a3 \
  --jq '.changes[] | "\(.file):\(.line) \(.image) \(.old[7:19])… -> \(.new[7:19])…"'
cat "$out/pins-summary.md"
echo "-- the look-alike claude-runtime-fix-extra kept its digest:"
grep -o 'claude-runtime-fix-extra@sha256:[0-9a-f]\{12\}' "$out/pins/.github/workflows/claude-lint-failure.yml"
echo
echo "== 8. roll back by release id: the ledger knows the digests, the tree is as before"
digest-pin "${pins[@]}" --ledger "$ledger" --release 2026.11.0 --record --expect 9 \
  --jq '"rolled back to \(.release): \(.changed) pins in \(.filesChanged) files, ledger record \(.ledger.seq)"'
diff -r "$here/../pins" "$out/pins" && echo "tree identical to examples/pins"
digest-pin ledger --ledger "$ledger" --jq '.records[] | "  \(.seq) \(.action) \(.release) at \(.recordedAt)"'
echo
echo "== 9. tag-bump: PR #42 merged; set its tag in the flux repository and push (examples/flux)"
# A local "flux" repository: a bare remote seeded with examples/flux, as a forge would hold it.
git_fx=(-c user.name="Flux Seed" -c user.email=seed@example.invalid)
cp -r "$here/../flux" "$out/flux-seed"
git -C "$out/flux-seed" init -q -b main
git -C "$out/flux-seed" add -A
git -C "$out/flux-seed" "${git_fx[@]}" commit -qm "flux as deployed"
git clone -q --bare "$out/flux-seed" "$out/flux.git"
bump=(--clone "file://$out/flux.git" --workdir "$out/flux" --author "Release Bot <release@example.invalid>")
tag-bump "${bump[@]}" --service papi --pr 42 --sha a1b2c3d4e5f60718293a4b5c6d7e8f9012345678 --push \
  --jq '"\(.edits[0].imageGroup): \(.edits[0].oldTag) -> \(.edits[0].newTag), commit \(.commit.sha[:7]), pushed=\(.push.pushed)"'
echo "-- the commit on the remote changes one line, only the tag:"
git -C "$out/flux.git" log -1 --format='   %h %s (%an)' main
git -C "$out/flux.git" diff -U0 main~1 main | grep '^[-+] '
echo "-- run it again: already there, nothing committed or pushed (exit 0):"
tag-bump "${bump[@]}" --service papi --pr 42 --sha a1b2c3d4e5f60718293a4b5c6d7e8f9012345678 --push \
  --jq '"changed=\(.changed) commit=\(.commit) pushed=\(.push.pushed)"' 2>/dev/null
echo "-- compare-and-swap: refuse unless the tag is still what we saw (exit 3):"
set +e
tag-bump "${bump[@]}" --service web --tag 2026.11.2 --expect-current 2026.10.9 --push
status=$?
set -e
echo "exit status: $status"
test "$status" -eq 3
echo
echo "== 10. prune-plan: clean up the registry (examples/prune, 2 pages), never what is pinned"
listing="$here/../prune/versions.json"
echo "-- the replaced weekly rule (pending-* older than 14d, never a 40-hex tag) deletes nothing,"
echo "   because every build carries both tags on one digest:"
prune-plan -i "$listing" --match 'pending-*' \
  --jq '"action \(.action): \(.summary.byReason | to_entries | map("\(.key) \(.value)") | join(", "))"' 2>/dev/null
echo "-- protect what the repository pins (digest-pin scan) and may roll back to (the ledger):"
digest-pin scan --root "$out/pins" > "$out/pins-scan.json"
plan=(-i "$listing" --match 'pending-*' --protect-tag none
      --protect-digests "$out/pins-scan.json" --protect-digests "$ledger")
prune-plan "${plan[@]}" --summary "$out/prune-summary.md" > "$out/prune-plan.json"
prune-plan "${plan[@]}" 2>/dev/null --jq '.packages[0].keep[] | select(.reason == "protected_digest")
  | "   kept \(.id) \(.digest[7:19])… (\(.detail | sub(".*/"; "")))"'
sed -n '1,14p' "$out/prune-summary.md"
echo "-- the reviewed plan as gh api calls (first 2 of $(prune-plan "${plan[@]}" --jq .summary.delete 2>/dev/null)):"
prune-plan "${plan[@]}" --format commands 2>/dev/null | head -2
echo "-- a careless --match '*' is over --max-delete 20: refused, nothing may be deleted (exit 3):"
set +e
prune-plan -i "$listing" --match '*' --protect-tag none --max-delete 20 > /dev/null
status=$?
set -e
echo "exit status: $status"
test "$status" -eq 3
echo
echo "== 11. evidence collectors: health-probe and freshness-check, each into gate-eval"
# A local server with well-behaved and failing health endpoints, stopped when the demo ends.
mkdir -p "$out/health-server"
python3 "$here/../../tests/support/health_server.py" --state "$out/health-server" &
server_pid=$!
registry_pid=
trap 'kill "$server_pid" $registry_pid 2>/dev/null || true' EXIT
for _ in $(seq 100); do [ -s "$out/health-server/port" ] && break; sleep 0.1; done
base="http://127.0.0.1:$(cat "$out/health-server/port")"
echo "-- the URL list as it would be stored in RUNTIME_HEALTH_URLS, checked with no request:"
health-probe --validate-only --jq '.urls[]' \
  --urls "HTTP://127.0.0.1:$(cat "$out/health-server/port")/healthz#main, $base/flaky/warmup"
echo "-- a URL carrying a credential is refused, and the error does not repeat it (exit 2):"
set +e
health-probe --validate-only --urls "https://deploy:s3cret@payments.internal/healthz"
status=$?
set -e
echo "exit status: $status"
test "$status" -eq 2
echo "-- probed: healthz answers; the warming-up endpoint fails once and passes on retry:"
RUNTIME_HEALTH_URLS="$base/healthz,$base/flaky/warmup" \
  health-probe --retry-delay 200ms --summary "$out/health-summary.md" > "$out/health-report.json"
sed -n '3,6p' "$out/health-summary.md"
gate-eval --preset runtime-health -i "$out/health-report.json" \
  --jq '"runtime-health: \(.summary.decision)"'
echo "-- one endpoint answers 503 on every attempt: the gate holds:"
health-probe --urls "$base/healthz,$base/status/503" --retries 1 --retry-delay 100ms 2>/dev/null \
  | gate-eval --preset runtime-health \
      --jq '"runtime-health: \(.summary.decision) (\(.summary.reasonCodes | join(", ")))"'
echo "-- freshness-check: an upstream repository pinned at ci-v0.1.0 (2026-10-01) moved on"
up="$out/upstream"
mkdir -p "$up/skills/git" "$up/docs"
git -C "$up" init -q -b main
git -C "$up" remote add origin https://github.com/glitchwerks/claude-private.git  # names it
up_commit() { # DATE FILE SUBJECT
  echo "$3" >> "$up/$2"
  git -C "$up" add -A
  GIT_AUTHOR_DATE=$1 GIT_COMMITTER_DATE=$1 git -C "$up" "${git_fx[@]}" commit -qm "$3"
}
up_commit 2026-10-01T00:00:00Z skills/git/SKILL.md "release"
git -C "$up" tag ci-v0.1.0
up_commit 2026-10-05T00:00:00Z docs/README.md "docs: typo"
up_commit 2026-10-10T00:00:00Z skills/git/SKILL.md "skills/git: safer rebase advice"
up_commit 2026-10-20T00:00:00Z CLAUDE.md "CLAUDE.md: new review rule"
fresh=(--repo "$up" --pinned ci-v0.1.0 --path skills/ --path CLAUDE.md)
freshness-check "${fresh[@]}" \
  --jq '"\(.status): \(.commitsAhead) commits ahead on \(.paths | join(" ")), gap \(.gap) (max \(.maxGap))",
        (.commits[] | "   \(.sha[:7]) \(.subject)"),
        "issue title: \(.title)", "dedupe key:  \(.dedupeKey)"'
freshness-check "${fresh[@]}" --max-gap 30d --jq '"with --max-gap 30d: \(.status)"'
freshness-check "${fresh[@]}" | gate-eval --preset upstream-freshness \
  --jq '"upstream-freshness: \(.summary.decision) (\(.summary.reasonCodes | join(", ")))"'
echo "-- the replaced alarm cloned with --depth 1 and counted 0 or 1; a shallow clone is"
echo "   refused (exit 3) and the gate holds rather than believe it:"
git clone -q --depth 1 "file://$up" "$out/upstream-shallow"
git -C "$out/upstream-shallow" fetch -q --depth 1 origin 'refs/tags/ci-v0.1.0:refs/tags/ci-v0.1.0'
set +e
freshness-check --repo "$out/upstream-shallow" --pinned ci-v0.1.0 --path skills/ \
  > "$out/freshness-shallow.json"
status=$?
set -e
echo "exit status: $status"
test "$status" -eq 3
gate-eval --preset upstream-freshness -i "$out/freshness-shallow.json" \
  --jq '"upstream-freshness: \(.summary.decision) (\(.summary.reasonCodes | join(", ")))"'
echo
echo "== 12. rollout-orchestrate: decide, apply with governance, verify the runtime, roll back"
mkdir -p "$out/orchestrate"
cp "$here/registry.v1.json" "$out/orchestrate/registry.v1.json"
orch=(--registry "$out/orchestrate/registry.v1.json" --gates "$here/gates.yaml" "${evidence[@]}"
      --subject payments-api@1.14.0 --actor alice --approval-ref CHG-1042
      --rationale "promotion rollout mutation" --review-by 2026-12-01T00:00:00Z)
echo "-- the runtime answers healthy: the change stays (status applied)"
rollout-orchestrate --mode apply "${orch[@]}" --idempotency-key rollout-42 \
  --verify-urls "$base/healthz,$base/flaky/orchestrate" --out-dir "$out/orchestrate/run1" >/dev/null
sed -n '1p;5,8p' "$out/orchestrate/run1/orchestrate-summary.md"
echo "-- the same request again: replayed, nothing changed"
rollout-orchestrate --mode apply "${orch[@]}" --idempotency-key rollout-42 \
  --out-dir "$out/orchestrate/run2" >/dev/null
sed -n '1p' "$out/orchestrate/run2/orchestrate-summary.md"
echo "-- the next step meets a failing endpoint: rolled back to 0% and the rollback command runs (exit 1)"
set +e
rollout-orchestrate --mode apply "${orch[@]}" --idempotency-key rollout-43 --to-percent 0 \
  --verify-urls "$base/healthz $base/status/503" \
  --rollback-command 'echo "rollback command: kubectl rollout undo deploy/payments-api (simulated)"' \
  --out-dir "$out/orchestrate/run3" >/dev/null 2>&1
status=$?
set -e
echo "exit status: $status"
test "$status" -eq 1
sed -n '1p;5,9p' "$out/orchestrate/run3/orchestrate-summary.md"
cat "$out/orchestrate/run3/rollback-command.log"
policy-apply verify --audit-log "$out/orchestrate/registry.v1.json.audit.jsonl" \
  --jq '"audit chain ok=\(.ok), \(.records) records"'
echo
echo "== 13. image-resolve: ask the registry, not docker pull"
# A local registry (Debian's docker-registry) with TLS and a password, seeded with images
# built by umoci; stopped when the demo ends. The credentials are where docker login puts them.
mkdir -p "$out/registry" "$out/docker"
python3 "$here/../../tests/support/oci_registry.py" --state "$out/registry" \
  > "$out/registry.log" 2>&1 &
registry_pid=$!
for _ in $(seq 600); do [ -s "$out/registry/port" ] && break; sleep 0.1; done
[ -s "$out/registry/port" ] || { cat "$out/registry.log" >&2; exit 1; }
reg="127.0.0.1:$(cat "$out/registry/port")"
printf '{"auths":{"%s":{"auth":"%s"}}}\n' "$reg" "$(printf 'ci:canary-pw-3f9a1c' | base64)" \
  > "$out/docker/config.json"
export SSL_CERT_FILE="$out/registry/cert.pem" DOCKER_CONFIG="$out/docker"
echo "-- a tag resolved to the digest of the bytes the registry sent; labels read, no layer pulled:"
image-resolve "$reg/acme/web:v1.4.2" > "$out/image-report.json"
jq -r '.images[0] | "acme/web:v1.4.2 -> \(.digest)",
  "   revision \(.config.labels["org.opencontainers.image.revision"]), created \(.config.created)"' \
  "$out/image-report.json"
sha=aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa
gate-eval --preset oci-labels -i "$out/image-report.json" --set expectedRevision=$sha \
  --jq '"oci-labels, built from the commit being rolled back to: \(.summary.decision)"'
image-resolve "$reg/acme/web:v2.0.0" | gate-eval --preset oci-labels --set expectedRevision=$sha \
  --jq '"oci-labels, v2.0.0 built from another commit: \(.summary.decision) (\(.summary.reasonCodes | join(", ")))"'
echo "-- the newest 1.x release, as a Flux ImagePolicy semver range selects it:"
image-resolve tags "$reg/acme/web" --policy 'semver:>=1.0.0 <2.0.0' --latest \
  --jq '"\(.latest.tag) of \(.total) tags, \(.latest.digest)"'
echo "-- the tag was moved after its digest was recorded (retag drift): flagged, with a warning:"
image-resolve "$reg/org/app:moved@$(cat "$out/registry/moved-before")" 2>/dev/null \
  --jq '.images[0] | "retagged: \(.retagged), the tag now points at \(.tagDigest)"'
echo "-- a tag that was never pushed is refused (exit 3), so it is never pinned:"
set +e
image-resolve "$reg/acme/web:v1.4.3" 2>&1 | sed "s|$reg|REGISTRY|g"
status=${PIPESTATUS[0]}
set -e
echo "exit status: $status"
test "$status" -eq 3
kill "$registry_pid" 2>/dev/null || true
wait "$registry_pid" 2>/dev/null || true
registry_pid=
echo
echo "files in $out"
