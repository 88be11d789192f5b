#!/usr/bin/env bats
# rollout-tag: the replaced rollout procedure in one command, against a local bare "flux"
# remote seeded with examples/flux, an environments file, and a gh stand-in for the PR.

setup() {
  load helpers
  setup_common
  PATH="$ROOT/bin:$PATH"
  export HOME="$TMP/home" GIT_CONFIG_NOSYSTEM=1
  mkdir -p "$HOME"
  unset GIT_TOKEN GITHUB_TOKEN GIT_SSL_NO_VERIFY ROLLOUT_ENVIRONMENTS ROLLOUT_CACHE_DIR XDG_CONFIG_HOME XDG_CACHE_HOME FAKE_GH_PR
  git config --global user.name "Release Bot"
  git config --global user.email release@example.invalid
  cp -r "$EX/flux" "$TMP/seed"
  git -C "$TMP/seed" init -q -b main
  git -C "$TMP/seed" add -A
  git -C "$TMP/seed" commit -qm "flux as deployed"
  git clone -q --bare "$TMP/seed" "$TMP/flux.git"
  mkdir -p "$HOME/.config/rollout-tools"
  cat > "$HOME/.config/rollout-tools/environments.json" <<JSON
{"environments": {
  "staging": {"fluxRepo": "file://$TMP/flux.git", "type": "github"},
  "lab": {"fluxRepo": "file://$TMP/flux.git", "type": "gitea", "branch": "main"},
  "broken": {"type": "github"}}}
JSON
  mkdir -p "$TMP/fakebin"
  printf '#!/bin/sh\nexec python3 %s "$@"\n' "$ROOT/tests/support/fake_gh.py" > "$TMP/fakebin/gh"
  chmod +x "$TMP/fakebin/gh"
  export FAKE_GH_STATE="$TMP/gh-state.json" FAKE_GH_LOG="$TMP/gh.log"
  echo '{}' > "$FAKE_GH_STATE"
  SHA=a1b2c3d4e5f60718293a4b5c6d7e8f9012345678
  cd "$TMP"
}

remote_subject() { git -C "$TMP/flux.git" log -1 --format=%s main; }

@test "PR 42 to staging: tagged, committed and pushed in one call; the procedure's report; again is a no-op" {
  run --separate-stderr rollout-tag papi --env staging --pr 42 --sha "$SHA"
  assert_success
  assert_equal "$(remote_subject)" "chore(backend-services): update image tag to pr-42-a1b2c3d"
  [[ "$stderr" == "tag-bump: environment staging (github): file://$TMP/flux.git"* ]]
  [[ "$stderr" == *"✓ Updated backend-services to pr-42-a1b2c3d"* ]]
  echo "$output" > report.json
  assert_equal "$(json_get report.json 'd["kind"]')" bump-report
  assert_equal "$(json_get report.json 'd["push"]["pushed"]')" true
  [ -d "$HOME/.cache/rollout-tools/flux-staging/.git" ]

  run --separate-stderr rollout-tag papi --env staging --pr 42 --sha "$SHA"
  assert_success
  echo "$output" > again.json
  assert_equal "$(json_get again.json 'd["changed"]')" false
  assert_equal "$(git -C "$TMP/flux.git" rev-list --count main)" 2
}

@test "the environment from .rollout-env, the PR from gh and the commit from git" {
  mkdir app && git -C app init -q -b main
  git -C app commit -q --allow-empty -m "feature"
  echo lab > app/.rollout-env
  sha=$(git -C app rev-parse HEAD)
  cd app
  FAKE_GH_PR=77 PATH="$TMP/fakebin:$PATH" run --separate-stderr rollout-tag web
  assert_success
  assert_equal "$(remote_subject)" "chore(web): update image tag to pr-77-${sha:0:7}"
  # a gitea environment runs with TLS verification off, and says so
  [[ "$stderr" == *"tag-bump: environment lab (gitea)"* ]]
  [[ "$stderr" == *"warning"*"TLS"* ]]
}

@test "the procedure's errors: no environment, unknown environment, no flux repo, no PR, unknown service" {
  run --separate-stderr rollout-tag papi --pr 42 --sha "$SHA"
  assert_failure 2
  assert_equal "${stderr%%$'\n'*}" "rollout-tag: error: no environment set: give --env NAME or write the name to .rollout-env at the repository root"
  run --separate-stderr rollout-tag papi --env prod --pr 42 --sha "$SHA"
  assert_failure 2
  [[ "$stderr" == *'unknown environment "prod"'*"(known: broken, lab, staging)"* ]]
  run --separate-stderr rollout-tag papi --env broken --pr 42 --sha "$SHA"
  assert_failure 2
  [[ "$stderr" == *'no flux repo configured for environment "broken"'* ]]
  PATH="$TMP/fakebin:$PATH" run --separate-stderr rollout-tag papi --env staging --sha "$SHA"
  assert_failure 2
  [[ "$stderr" == *"rollout-tag: error: no PR: give --pr N"* ]]
  run --separate-stderr rollout-tag nope --env staging --pr 42 --sha "$SHA"
  assert_failure 3
  [[ "$stderr" == *'tag-bump: error: '*'"nope"'* ]]
  run --separate-stderr rollout-tag --env staging
  assert_failure 2
  [[ "$stderr" == *"no service"* ]]
  assert_equal "$(git -C "$TMP/flux.git" rev-list --count main)" 1
}

@test "--dry-run prints a unified diff and pushes nothing; --jq and --compact reach the report" {
  run --separate-stderr rollout-tag papi --env staging --pr 43 --sha "$SHA" --dry-run
  assert_success
  assert_line --index 0 "--- a/apps/backend-services/kustomization.yaml"
  assert_line "+    newTag: pr-43-a1b2c3d # set by tag-bump"
  assert_equal "$(git -C "$TMP/flux.git" rev-list --count main)" 1
  run --separate-stderr rollout-tag papi --env staging --pr 43 --sha "$SHA" --dry-run --jq .changed
  assert_success
  assert_output true
  run --separate-stderr rollout-tag papi --env staging --pr 43 --sha "$SHA" --jq '.edits[0].newTag'
  assert_success
  assert_output pr-43-a1b2c3d
  run --separate-stderr rollout-tag papi --env staging --pr 44 --sha "$SHA" --compact
  assert_success
  assert_equal "${#lines[@]}" 1
}

@test "the environments file is validated: a misspelled key is refused, naming it and the known ones" {
  cat > envs.json <<JSON
{"environments": {"staging": {"fluxRepo": "file://$TMP/flux.git", "brnach": "release"}},
 "defaults": {}}
JSON
  run --separate-stderr rollout-tag papi --env staging --config envs.json --pr 43 --sha "$SHA"
  assert_failure 2
  assert_equal "${stderr%%$'\n'*}" "tag-bump: error: envs.json: unknown key(s) defaults, environments.staging.brnach (an environment takes fluxRepo, type, branch, servicesFile)"
  assert_equal "$(git -C "$TMP/flux.git" rev-list --count main)" 1
  echo '{"environments": {"staging": "file:///x"}}' > envs.json
  run --separate-stderr rollout-tag papi --env staging --config envs.json --pr 43 --sha "$SHA"
  assert_failure 2
  [[ "$stderr" == *"environments.staging (not an object)"* ]]
}

@test "no jq is needed: a jq on PATH that fails is never called" {
  mkdir -p "$TMP/nojq"
  printf '#!/bin/sh\necho "jq was called" >&2\nexit 99\n' > "$TMP/nojq/jq"
  chmod +x "$TMP/nojq/jq"
  PATH="$TMP/nojq:$PATH" run --separate-stderr rollout-tag papi --env staging --pr 45 --sha "$SHA"
  assert_success
  [[ "$stderr" != *"jq was called"* ]]
  assert_equal "$(remote_subject)" "chore(backend-services): update image tag to pr-45-a1b2c3d"
}
