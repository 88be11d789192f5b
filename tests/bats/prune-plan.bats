#!/usr/bin/env bats
# prune-plan the way a clean-up workflow drives it: `gh api --paginate` piped in, a
# digest-pin scan of the deploy repository as protection, the reviewed plan executed as
# `gh api -X DELETE` lines. `gh` is a stand-in (tests/support/fake_gh.py) serving the
# example registry (examples/prune: 40 builds, two pages) and recording every call.

PKG=/orgs/glitchwerks/packages/container/claude-runtime-review
PINNED=sha256:776980ed9009fe17dfdb782960978bd573842dc867728bd4e63d734871cdeef1

setup() {
  load helpers
  setup_common
  mkdir -p "$TMP/bin"
  printf '#!/bin/sh\nexec python3 %s "$@"\n' "$ROOT/tests/support/fake_gh.py" > "$TMP/bin/gh"
  chmod +x "$TMP/bin/gh"
  PATH="$TMP/bin:$PATH"
  export FAKE_GH_STATE="$TMP/registry.json" FAKE_GH_LOG="$TMP/gh.log"
  # the registry: the example listing's versions, newest first, as the API serves them
  registry_state "$EX/prune/versions.json" "$PKG" > "$FAKE_GH_STATE"
  digest-pin scan --root "$EX/pins" > "$TMP/pins.json"
  cd "$TMP"
}

deletes() { grep -c '"DELETE"' "$FAKE_GH_LOG" || true; }

@test "the replaced rule keeps every build: each one also carries a 40-hex tag" {
  run --separate-stderr bash -c "gh api --paginate $PKG/versions | prune-plan --match 'pending-*' \
    --jq '\"\(.action) \(.summary.totalVersions) \(.summary.byReason.protected_tag)\"'"
  assert_success
  assert_output "nothing 40 33"
  assert_equal "$stderr" "prune-plan: 40 version(s) in 1 package(s): 0 candidate(s), 40 kept (too_recent 7, protected_tag 33)"
}

@test "paginated listing + digest-pin scan -> plan -> gh api deletes exactly the plan -> nothing left to do" {
  gh api --paginate "$PKG/versions" > listing.json
  # gh prints the pages back to back: both are read, and the URLs name the package
  run --separate-stderr prune-plan -i listing.json --match 'pending-*' --protect-tag none \
    --protect-digests pins.json --summary summary.md --compact
  assert_success
  echo "$output" > plan.json
  assert_equal "$(json_get plan.json 'd["action"]')" delete
  assert_equal "$(json_get plan.json 'd["summary"]["delete"]')" 32
  assert_equal "$(json_get plan.json 'd["packages"][0]["package"]')" claude-runtime-review
  assert_equal "$(json_get plan.json '[k["digest"] for k in d["packages"][0]["keep"] if k["reason"] == "protected_digest"]')" "[\"$PINNED\"]"
  grep -q '^| protected_digest | 1 |$' summary.md

  # the reviewed plan, executed
  prune-plan -i listing.json --match 'pending-*' --protect-tag none --protect-digests pins.json \
    --format commands > delete.sh
  assert_equal "$(wc -l < delete.sh)" 32
  sh -e delete.sh
  assert_equal "$(deletes)" 32
  # exactly the ids of the plan were deleted
  python3 - plan.json "$FAKE_GH_LOG" <<'PY'
import json, sys
plan = json.load(open(sys.argv[1]))
planned = sorted(str(v["id"]) for v in plan["packages"][0]["delete"])
done = sorted(json.loads(l)[-1].rsplit("/", 1)[1] for l in open(sys.argv[2]) if '"DELETE"' in l)
assert planned == done, (planned, done)
PY

  # list again: the pinned build and the recent ones are all that is left; the same plan is empty
  run --separate-stderr bash -c "gh api --paginate $PKG/versions | prune-plan --match 'pending-*' \
    --protect-tag none --protect-digests pins.json --jq '\"\(.action) \(.summary.totalVersions)\"'"
  assert_success
  assert_output "nothing 8"
}

@test "over --max-delete: exit 3, the plan lists the candidates, no delete command runs" {
  run --separate-stderr prune-plan -i <(gh api --paginate "$PKG/versions") --match 'pending-*' \
    --protect-tag none --max-delete 10 --compact
  assert_failure 3
  assert_equal "$stderr" "prune-plan: error: 33 versions to delete exceed --max-delete 10; the plan is refused and nothing may be deleted
  hint: review the plan's delete list; raise --max-delete only if every entry is meant"
  echo "$output" > plan.json
  assert_equal "$(json_get plan.json 'd["action"]')" refused_threshold
  assert_equal "$(json_get plan.json 'len(d["packages"][0]["delete"])')" 33
  # a pipeline that would run the commands runs none
  run bash -c "set -o pipefail; gh api --paginate $PKG/versions | prune-plan --match 'pending-*' \
    --protect-tag none --max-delete 10 --format commands | sh -e"
  assert_failure 3
  assert_equal "$(deletes)" 0
}

@test "a scan of the wrong directory protects nothing: refused before anything could be deleted" {
  mkdir empty
  digest-pin scan --root empty > wrong-scan.json
  run --separate-stderr prune-plan -i <(gh api --paginate "$PKG/versions") --match 'pending-*' \
    --protect-tag none --protect-digests wrong-scan.json --format commands
  assert_failure 3
  assert_output ""
  [[ "$stderr" == "prune-plan: error: --protect-digests wrong-scan.json: protects no digests (digest-scan)"* ]]
}

@test "an upstream failure in the pipe is reported with its own message" {
  run --separate-stderr bash -c "digest-pin scan --root does-not-exist --json-errors 2>/dev/null \
    | prune-plan --match '*'"
  assert_failure 2
  [[ "$stderr" == "prune-plan: error: stdin: upstream digest-pin failed: "* ]]
  # and a listing the registry refused (gh prints nothing on stdout) is an empty input
  run --separate-stderr bash -c "gh api --paginate /orgs/glitchwerks/packages/container/nope/versions \
    2>/dev/null | prune-plan --match '*'"
  assert_failure 2
  assert_equal "$stderr" "prune-plan: error: stdin is empty: expected a package versions listing (JSON)"
}

@test "in a GitHub Actions step: the summary is appended and a refusal is annotated" {
  export GITHUB_ACTIONS=true GITHUB_STEP_SUMMARY="$TMP/step.md"
  run --separate-stderr prune-plan -i <(gh api --paginate "$PKG/versions") --match 'pending-*' \
    --protect-tag none --max-delete 5 --compact
  assert_failure 3
  grep -q '^### prune-plan: \*\*refused\*\*: 33 candidates exceed --max-delete 5' "$TMP/step.md"
  [[ "$stderr" == *"::error title=prune-plan::33 versions to delete exceed --max-delete 5"* ]]
}

@test "several packages in one map: one plan, commands per package" {
  python3 - "$FAKE_GH_STATE" "$PKG" > map.json <<'PY'
import json, sys
versions = json.load(open(sys.argv[1]))[sys.argv[2]]
print(json.dumps({"claude-runtime-review": versions, "claude-runtime-base": versions[:5]}))
PY
  # the base package's versions carry the review package's URLs: refused, not guessed
  run --separate-stderr prune-plan -i map.json --match 'pending-*'
  assert_failure 2
  [[ "$stderr" == *'package "claude-runtime-base" holds a version whose URL names package "claude-runtime-review"'* ]]
  python3 - "$FAKE_GH_STATE" "$PKG" > map.json <<'PY'
import json, sys
versions = json.load(open(sys.argv[1]))[sys.argv[2]]
strip = lambda vs: [{k: v for k, v in x.items() if "url" not in k} for x in vs]
print(json.dumps({"claude-runtime-review": strip(versions), "claude-runtime-base": strip(versions[-3:])}))
PY
  run --separate-stderr prune-plan -i map.json --match 'pending-*' --protect-tag none \
    --format commands --org glitchwerks
  assert_success
  assert_equal "$(echo "$output" | grep -c /claude-runtime-base/)" 3
  assert_equal "$(echo "$output" | grep -c /claude-runtime-review/)" 33
  assert_line --index 0 "gh api -X DELETE /orgs/glitchwerks/packages/container/claude-runtime-base/versions/100000000"
}
