#!/usr/bin/env bats
# digest-pin promoting and rolling back a realistic workflow tree in a git repository.

REVIEW=776980ed9009fe17dfdb782960978bd573842dc867728bd4e63d734871cdeef1
FIX=da2b6e52ad20159252cb6f24147d4ece221182dbb0b21df9fb32966126e24a20
EXPLAIN=23dd59f2651ebc9aba93b5c143d5b78d256c8abe1ebf970ad9c218f6aa06ff77
NEW_REVIEW=0e5751c026e543b2e8ab2eb06099daa1d1e5df47778f7787faab45cdf12fe3a8
NEW_FIX=7d865e959b2466918c9863afca942d0fb89d7c9ac0c99bafc3749504ded97730
NEW_EXPLAIN=2c624232cdd221771294dfbb310aca000a0df6ac8b66b696d90ef06fdefb64a3
RELEASE=9f86d081884c7d659a2feaa0c55ad015a3bf4f1b

setup() {
  load helpers
  setup_common
  REPO="$TMP/repo"
  cp -r "$EX/pins" "$REPO"
  git -C "$REPO" init -q
  git -C "$REPO" add -A
  git -C "$REPO" -c user.name=ci -c user.email=ci@example.invalid commit -qm "pins as released"
  LEDGER="$TMP/digests.jsonl"
  cd "$REPO"
}

promote() {
  digest-pin --set "claude-runtime-review=sha256:$NEW_REVIEW" --set "claude-runtime-fix=sha256:$NEW_FIX" \
    --set "claude-runtime-explain=$NEW_EXPLAIN" --expect 9 --expect-image claude-runtime-fix=4 \
    --record --ledger "$LEDGER" --release "$RELEASE" "$@"
}

@test "promote rewrites every shape, only the digest bytes, and records the release" {
  run --separate-stderr promote --jq '"\(.total) \(.changed) \(.filesChanged) \(.ledger.seq)"'
  assert_success
  assert_output "9 9 6 1"
  # git sees six files, one changed line per pin, and each pair differs only in the hex.
  run git diff --numstat
  assert_equal "$(git diff --numstat | awk '{a+=$1; d+=$2} END {print NR, a, d}')" "6 9 9"
  git diff -U0 | python3 -c '
import sys, re
lines = [l for l in sys.stdin.read().splitlines() if l[:1] in "+-" and l[:3] not in ("+++", "---")]
olds, news = [l[1:] for l in lines if l[0] == "-"], [l[1:] for l in lines if l[0] == "+"]
assert len(olds) == len(news) == 9, lines
for o, n in zip(olds, news):
    assert re.sub("[0-9a-f]{64}", "H", o) == re.sub("[0-9a-f]{64}", "H", n), (o, n)
'
  grep -q "claude-runtime-fix-extra@sha256:$REVIEW" .github/workflows/claude-lint-failure.yml
  grep -q "ARG REVIEW_IMAGE=ghcr.io/glitchwerks/claude-runtime-review:2026.11@sha256:$NEW_REVIEW" runtime/Dockerfile
  grep -q "    digest: sha256:$NEW_EXPLAIN" deploy/kustomization.yaml
  run json_get "$LEDGER" 'd["release"] + " " + d["action"]'
  assert_output "$RELEASE promote"
}

@test "rollback by release id restores the tree byte for byte" {
  digest-pin --set "claude-runtime-review=$REVIEW" --set "claude-runtime-fix=$FIX" \
    --set "claude-runtime-explain=$EXPLAIN" --record --ledger "$LEDGER" --release 2026.11.0 >/dev/null
  promote >/dev/null
  [ -n "$(git status --porcelain)" ]
  run --separate-stderr digest-pin --ledger "$LEDGER" --release 2026.11.0 --expect 9 --record \
    --jq '"\(.changed) \(.ledger.seq)"'
  assert_success
  assert_output "9 3"
  [ -z "$(git status --porcelain)" ]
  run digest-pin ledger --ledger "$LEDGER" --jq '.records[] | "\(.seq) \(.release) \(.action)"'
  assert_output "3 2026.11.0 rollback
2 $RELEASE promote
1 2026.11.0 promote"
}

@test "--check fails on drift with file:line, and passes once pinned" {
  run --separate-stderr digest-pin --check --set "claude-runtime-explain=$NEW_EXPLAIN" \
    --jq '.changes[] | "\(.file):\(.line) \(.image)"'
  assert_failure 1
  assert_output ".github/workflows/claude-tag-respond.yml:16 ghcr.io/glitchwerks/claude-runtime-explain
deploy/kustomization.yaml:9 ghcr.io/glitchwerks/claude-runtime-explain
runtime/Dockerfile:4 ghcr.io/glitchwerks/claude-runtime-explain"
  [ -z "$(git status --porcelain)" ]
  digest-pin --set "claude-runtime-explain=$NEW_EXPLAIN" >/dev/null
  run digest-pin --check --set "claude-runtime-explain=$NEW_EXPLAIN" --jq .inSync
  assert_success
  assert_output true
}

@test "a count mismatch exits 3, names the counts and leaves the tree clean" {
  run --separate-stderr digest-pin --set "claude-runtime-review=sha256:$NEW_REVIEW" \
    --set "claude-runtime-fix=sha256:$NEW_FIX" --set "claude-runtime-explain=$NEW_EXPLAIN" \
    --expect 7 --record --ledger "$LEDGER" --release "$RELEASE"
  assert_failure 3
  [[ "${stderr_lines[0]}" == "digest-pin: error: total: expected 7 pins, found 9" ]]
  [ -z "$(git status --porcelain)" ]
  [ ! -s "$LEDGER" ]
}

@test "a rollback to a release the ledger does not know is refused" {
  promote >/dev/null
  git checkout -q .
  run --separate-stderr digest-pin --ledger "$LEDGER" --release 1111111111111111111111111111111111111111
  assert_failure 3
  [[ "${stderr_lines[0]}" == *'is not in the ledger'* ]]
  [ -z "$(git status --porcelain)" ]
}

@test "scan lists the digests the tree pins, for prune-plan --protect-digests" {
  digest-pin scan > "$TMP/scan.json"
  run json_get "$TMP/scan.json" 'len(d["references"])'
  assert_output 10
  run json_get "$TMP/scan.json" 'd["digests"]'
  assert_output "[\"sha256:$EXPLAIN\", \"sha256:$REVIEW\", \"sha256:$FIX\"]"
}
