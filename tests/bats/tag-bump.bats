#!/usr/bin/env bats
# tag-bump driving a "flux" repository the way a CI step does: local bare remotes, and a
# loopback HTTPS smart-HTTP server with a self-signed certificate and a pre-receive hook.

setup() {
  load helpers
  setup_common
  export HOME="$TMP/home"          # no user git config: the documented default author
  mkdir -p "$HOME"
  unset GIT_TOKEN GITHUB_TOKEN GIT_USER GIT_SSL_NO_VERIFY SSL_CERT_FILE
  SEED="$TMP/seed"
  cp -r "$EX/flux" "$SEED"
  git -C "$SEED" init -q -b main
  git -C "$SEED" add -A
  git -C "$SEED" -c user.name=ci -c user.email=ci@example.invalid commit -qm "flux as deployed"
  git clone -q --bare "$SEED" "$TMP/remote.git"
  REMOTE="file://$TMP/remote.git"
}

teardown() {
  if [ -n "${SERVER_PID:-}" ]; then kill "$SERVER_PID" 2>/dev/null || true; fi
}

start_server() {
  mkdir -p "$TMP/srv"
  git clone -q --bare "$SEED" "$TMP/srv/flux.git"
  python3 "$ROOT/tests/support/git_https_server.py" --root "$TMP/srv" --state "$TMP/state" \
    --token "bats-token-0451" 2>"$TMP/server.err" &
  SERVER_PID=$!
  for _ in $(seq 100); do [ -s "$TMP/state/port" ] && break; sleep 0.1; done
  URL="https://127.0.0.1:$(cat "$TMP/state/port")/flux.git"
}

@test "the rollout procedure in one call: tag from PR and SHA, commit, push" {
  run --separate-stderr tag-bump --clone "$REMOTE" --workdir "$TMP/flux" --service papi \
    --pr 42 --sha a1b2c3d4e5f60718293a4b5c6d7e8f9012345678 --push --compact \
    --jq '"\(.edits[0].oldTag) \(.edits[0].newTag) \(.servicesAffected | join(",")) \(.push.pushed)"'
  assert_success
  assert_output "pr-41-0a1b2c3 pr-42-a1b2c3d papi,worker true"
  [[ "$stderr" == *"✓ Updated backend-services to pr-42-a1b2c3d"* ]]
  run git -C "$TMP/remote.git" log -1 --format='%s|%an' main
  assert_output "chore(backend-services): update image tag to pr-42-a1b2c3d|tag-bump"
  # One file, one line: only the tag changed.
  run git -C "$TMP/remote.git" diff --numstat main~1 main
  assert_output "$(printf '1\t1\tapps/backend-services/kustomization.yaml')"
  run git -C "$TMP/remote.git" diff -U0 main~1 main -- apps/backend-services/kustomization.yaml
  assert_line "-    newTag: pr-41-0a1b2c3 # set by tag-bump"
  assert_line "+    newTag: pr-42-a1b2c3d # set by tag-bump"
}

@test "a Flux setter tree: every file the policy marks, in one pushed commit" {
  mkdir -p "$TMP/flux-seed" && git clone -q "$REMOTE" "$TMP/flux-seed"
  mkdir -p "$TMP/flux-seed/apps/jobs"
  printf 'image: ghcr.io/acme/app:1.0.0 # {"$imagepolicy": "flux-system:app"}\n' \
    > "$TMP/flux-seed/apps/jobs/job.yaml"
  git -C "$TMP/flux-seed" add -A
  git -C "$TMP/flux-seed" -c user.name=ci -c user.email=ci@example.invalid commit -qm jobs
  git -C "$TMP/flux-seed" push -q origin main
  run --separate-stderr tag-bump --clone "$REMOTE" --workdir "$TMP/flux" --type flux-setter \
    --image flux-system:app --path apps --tag 1.6.0 --expect 3 --push --compact \
    --jq '[.edits[].file] | join(" ")'
  assert_success
  assert_output "apps/app/deployment.yaml apps/jobs/job.yaml"
  run git -C "$TMP/remote.git" diff --stat --format= main~1 main
  assert_line --partial "apps/app/deployment.yaml | 4"
  assert_line --partial "apps/jobs/job.yaml       | 2"
  assert_line --partial "2 files changed"
  run git -C "$TMP/remote.git" log -1 --format=%b main
  assert_output "$(printf 'Files:\n- apps/app/deployment.yaml\n- apps/jobs/job.yaml')"
}

@test "running it again changes nothing and pushes nothing" {
  tag-bump --clone "$REMOTE" --workdir "$TMP/flux" --service web --tag 2026.11.2 --push >/dev/null 2>&1
  before=$(git -C "$TMP/remote.git" rev-parse main)
  run --separate-stderr tag-bump --clone "$REMOTE" --workdir "$TMP/flux" --service web \
    --tag 2026.11.2 --push --compact --jq '"\(.changed) \(.commit) \(.push.pushed)"'
  assert_success
  assert_output "false null false"
  [[ "$stderr" == *"already at 2026.11.2"* ]]
  assert_equal "$(git -C "$TMP/remote.git" rev-parse main)" "$before"
}

@test "an unknown service exits 3, names the services file, and changes nothing" {
  git clone -q "$REMOTE" "$TMP/flux"
  run --separate-stderr tag-bump --repo "$TMP/flux" --service billing --tag v1 --push
  assert_failure 3
  [[ "$stderr" == *"tag-bump: error: service \"billing\" is not in services.json"* ]]
  [[ "$stderr" == *"hint: add the service under \"services\" in services.json"* ]]
  assert_equal "$(git -C "$TMP/flux" status --porcelain)" ""
  assert_equal "$(git -C "$TMP/remote.git" rev-list --count main)" "1"
}

@test "a preview is a unified diff on stdout; nothing is written" {
  git clone -q "$REMOTE" "$TMP/flux"
  run tag-bump --repo "$TMP/flux" --service api --tag 1.5.0 --dry-run --diff --jq .diff
  assert_success
  assert_line '-      tag: "1.4.2" # the chart'"'"'s appVersion is ignored'
  assert_line '+      tag: "1.5.0" # the chart'"'"'s appVersion is ignored'
  assert_equal "$(git -C "$TMP/flux" status --porcelain)" ""
}

@test "three bumps of different services racing into one remote all land, history linear" {
  for s in papi web api; do git clone -q "$REMOTE" "$TMP/c-$s"; done
  for s in papi web api; do
    tag-bump --repo "$TMP/c-$s" --service "$s" --tag "race-$s" --push --compact > "$TMP/$s.json" 2>"$TMP/$s.err" &
  done
  wait
  for s in papi web api; do assert_equal "$(json_get "$TMP/$s.json" 'd["push"]["pushed"]')" "true"; done
  assert_equal "$(git -C "$TMP/remote.git" rev-list --count main)" "4"
  assert_equal "$(git -C "$TMP/remote.git" rev-list --merges --count main)" "0"
  git -C "$TMP/remote.git" show main:apps/backend-services/kustomization.yaml | grep -q "newTag: race-papi"
  git -C "$TMP/remote.git" show main:apps/web/kustomization.yaml | grep -q "newTag: 'race-web'"
  git -C "$TMP/remote.git" show main:apps/api/helmrelease.yaml | grep -q 'tag: "race-api"'
}

@test "over HTTPS: TLS verified, token from the environment, a hook's refusal exits 4" {
  start_server
  # Self-signed certificate: refused unless trusted or --insecure.
  run --separate-stderr tag-bump --clone "$URL" --workdir "$TMP/flux" --service papi --tag h1 --push
  assert_failure 5
  [[ "$stderr" == *"the SSL certificate is invalid"* ]]
  # Trusted through SSL_CERT_FILE, token from GIT_TOKEN: pushed, and the token never shows.
  run --separate-stderr env SSL_CERT_FILE="$TMP/state/cert.pem" GIT_TOKEN=bats-token-0451 \
    tag-bump --clone "$URL" --workdir "$TMP/flux" --service papi --tag h1 --push --compact --jq .push.pushed
  assert_success
  assert_output "true"
  [[ "$stderr$output" != *bats-token-0451* ]]
  # A pre-receive hook refuses the next push: exit 4 with the server's message.
  printf '#!/bin/sh\necho "policy: main is frozen" >&2\nexit 1\n' > "$TMP/srv/flux.git/hooks/pre-receive"
  chmod +x "$TMP/srv/flux.git/hooks/pre-receive"
  run --separate-stderr env GIT_SSL_NO_VERIFY=true GIT_TOKEN=bats-token-0451 \
    tag-bump --clone "$URL" --workdir "$TMP/flux" --service web --tag h2 --push
  assert_failure 4
  [[ "$stderr" == *"tag-bump: warning: TLS certificate verification is off (GIT_SSL_NO_VERIFY)"* ]]
  [[ "$stderr" == *"rejected by the server"*"policy: main is frozen"* ]]
  assert_equal "$(git -C "$TMP/srv/flux.git" log -1 --format=%s main)" "chore(backend-services): update image tag to h1"
}
