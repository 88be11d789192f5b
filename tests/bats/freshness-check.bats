#!/usr/bin/env bats
# freshness-check the way the weekly freshness workflow drives it: a real upstream
# repository with chosen commit dates, paths from the CI manifest, the report piped into
# gate-eval's upstream-freshness preset, and one tracker issue found again by dedupeKey.

setup() {
  load helpers
  setup_common
  cd "$TMP"
  export GIT_CONFIG_GLOBAL=/dev/null GIT_CONFIG_NOSYSTEM=1
  up=$TMP/upstream
  mkdir -p "$up"
  git -C "$up" init -q -b main
  git -C "$up" remote add origin "https://x-access-token:canary-t0ken@github.com/glitchwerks/claude-private.git"
  commit_at 2026-10-01T00:00:00Z skills/git/SKILL.md release
  git -C "$up" tag ci-v0.1.0
  commit_at 2026-10-05T00:00:00Z docs/README.md "docs: typo"
  commit_at 2026-10-10T00:00:00Z skills/git/SKILL.md "skills/git: safer rebase advice"
  commit_at 2026-10-20T00:00:00Z CLAUDE.md "CLAUDE.md: new review rule"
  cat > ci-manifest.yaml <<'YAML'
shared:
  imports_from_private:
    skills: [git, git]
    claude_md: CLAUDE.md
YAML
}

# commit_at DATE FILE SUBJECT
commit_at() {
  mkdir -p "$(dirname "$up/$2")"
  echo "$3" >> "$up/$2"
  git -C "$up" add -A
  GIT_AUTHOR_DATE=$1 GIT_COMMITTER_DATE=$1 git -C "$up" -c user.name=t -c user.email=t@example.invalid commit -qm "$3"
}

QUERY='.shared.imports_from_private | [(.skills[] | "skills/\(.)/"), .claude_md]'

@test "paths from the CI manifest -> freshness-check -> gate-eval upstream-freshness holds; the credential in origin is not shown" {
  run --separate-stderr bash -c "freshness-check --repo upstream --pinned ci-v0.1.0 --head main \
    --paths-from ci-manifest.yaml --paths-query '$QUERY' --compact > report.json &&
    gate-eval --preset upstream-freshness -i report.json --fail-on-hold --jq '.summary.reasonCodes[]'"
  assert_failure 1
  assert_output upstream_pin_stale
  assert_equal "$(json_get report.json 'd["paths"]')" '["CLAUDE.md", "skills/git/"]'
  assert_equal "$(json_get report.json 'd["commitsAhead"]')" 2
  assert_equal "$(json_get report.json 'd["gap"]')" 19d
  assert_equal "$(json_get report.json 'd["title"]')" "Stale pinned ref: ci-v0.1.0 in https://github.com/glitchwerks/claude-private"
  run grep -c canary-t0ken report.json
  assert_output 0
}

@test "the tracker issue is found again: title and dedupeKey do not move when the counts do" {
  freshness-check --repo upstream --pinned ci-v0.1.0 --path skills/ --compact > week1.json
  commit_at 2026-11-01T00:00:00Z skills/git/SKILL.md "skills/git: more"
  freshness-check --repo upstream --pinned ci-v0.1.0 --path skills/ --compact > week2.json
  assert_equal "$(json_get week1.json 'd["commitsAhead"]')" 1
  assert_equal "$(json_get week2.json 'd["commitsAhead"]')" 2
  assert_equal "$(json_get week1.json 'd["dedupeKey"]')" "$(json_get week2.json 'd["dedupeKey"]')"
  assert_equal "$(json_get week1.json 'd["title"]')" "$(json_get week2.json 'd["title"]')"
  # the body carries the key in a hidden marker, so a search by key finds the issue
  json_get week2.json 'd["body"]' | grep -qF "<!-- freshness:https://github.com/glitchwerks/claude-private@ci-v0.1.0 -->"
}

@test "--fail-on-stale fails the step; within --max-gap it is fresh and the gate promotes" {
  export GITHUB_STEP_SUMMARY="$TMP/step-summary.md"
  run --separate-stderr freshness-check --repo upstream --pinned ci-v0.1.0 --path skills/ --fail-on-stale --jq .status
  assert_failure 1
  assert_output stale
  grep -q "ci-v0.1.0" step-summary.md
  run --separate-stderr bash -c "freshness-check --repo upstream --pinned ci-v0.1.0 --path skills/ --max-gap 30d \
    | gate-eval --preset upstream-freshness --fail-on-hold --jq .summary.decision"
  assert_success
  assert_output promote
}

@test "a shallow clone is refused (exit 3, report still printed) and the gate holds" {
  git clone -q --depth 1 "file://$up" shallow
  git -C shallow fetch -q --depth 1 origin 'refs/tags/ci-v0.1.0:refs/tags/ci-v0.1.0'
  run --separate-stderr freshness-check --repo shallow --pinned ci-v0.1.0 --path docs/ --compact
  assert_failure 3
  echo "$output" > report.json
  assert_equal "$(json_get report.json 'd["status"]')" incomplete_history
  [[ "$stderr" == "freshness-check: error: "*"is a shallow clone"* ]]
  run --separate-stderr gate-eval --preset upstream-freshness -i report.json --jq '.summary.reasonCodes[]'
  assert_output freshness_history_incomplete
}
