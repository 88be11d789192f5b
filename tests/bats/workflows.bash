# The rehearsal harness of tests/bats/workflows.bats: the example workflows run for real
# under act (nektos/act, host mode) in a consumer repository laid out as
# examples/github/README.md tells a user, pushed to a loopback bare remote.
#
# What act cannot reach is stood in for, and every stand-in logs its calls:
#   actions/checkout, actions/upload-artifact,  tests/support/act/{checkout,upload-artifact,
#   actions/cache/{restore,save}                cache} (--local-repository), log $STANDIN_LOG
#                                               (the cache is kept in $T/cache)
#   gh                                          tests/support/fake_gh.py, $FAKE_GH_LOG
#   ghcr.io                                     tests/support/oci_registry.py (a real
#                                               registry, ROLLOUT_REGISTRY_MIRRORS), its
#                                               front.log
#   the job summary page                        tests/support/act/runner-bin/bash, $SUMMARY
# https://github.com/OWNER/NAME is rewritten (url.insteadOf in the temp HOME) to
# $T/remotes/OWNER/NAME.git, so the workflows' own `git push origin` lands there too.
# Nothing is written outside the test's temp directory: HOME is a temp dir (act runs steps
# as the real user), and each act run is wrapped in `timeout` (act ignores timeout-minutes).

CHECKOUT=actions/checkout@11bd71901bbe5b1630ceea73d27597364c9af683
UPLOAD=actions/upload-artifact@ea165f8d65b6e75b540449e92b4886f43607fa02
CACHE=actions/cache@5a3ec84eff668545956fd18022155c47e93e2684
CONSUMER=acme/deploy

setup_rehearsal() {
  load helpers
  setup_common
  ACT="$ROOT/target/lint-venv/bin/act"
  # never skipped: make test-workflows-run installs act; without it the scenario fails
  [ -x "$ACT" ] || fail "act is not installed at $ACT (run: make test-workflows-run)"
  T="$TMP"
  REAL_CARGO_HOME="${CARGO_HOME:-$HOME/.cargo}" REAL_RUSTUP_HOME="${RUSTUP_HOME:-$HOME/.rustup}"
  export HOME="$T/home"
  mkdir -p "$HOME" "$T/remotes" "$T/artifacts" "$T/standin-bin" "$T/tools" "$T/cache"
  cat > "$HOME/.gitconfig" <<EOF
[url "file://$T/remotes/"]
	insteadOf = https://github.com/
[user]
	name = rehearsal
	email = rehearsal@example.invalid
[init]
	defaultBranch = main
[advice]
	detachedHead = false
EOF
  # the prebuilt toolkit the setup action is pointed at (ROLLOUT_TOOLS_BIN_DIR)
  local p
  for p in gate-eval policy-apply digest-pin tag-bump prune-plan health-probe freshness-check image-resolve; do
    ln -s "${ROLLOUT_BIN:-$ROOT/target/debug}/$p" "$T/tools/$p"
  done
  for p in rollout-orchestrate rollout-gate-config rollout-tag rollout-lib.sh; do
    ln -s "$ROOT/bin/$p" "$T/tools/$p"
  done
  printf '#!/bin/sh\nexec python3 %s "$@"\n' "$ROOT/tests/support/fake_gh.py" > "$T/standin-bin/gh"
  chmod +x "$T/standin-bin/gh"
  export STANDIN_LOG="$T/standin.jsonl" STANDIN_ARTIFACTS="$T/artifacts" SUMMARY="$T/summary.md"
  export FAKE_GH_STATE="$T/gh-state.json" FAKE_GH_LOG="$T/gh.log"
  echo '{}' > "$FAKE_GH_STATE"
  : > "$STANDIN_LOG"; : > "$FAKE_GH_LOG"
  ACT_EXTRA=()
  unset GIT_CONFIG_GLOBAL GIT_CONFIG_NOSYSTEM
}

# new_consumer [SRC...]: the consumer repository $W (a developer's clone) with the example
# workflows under .github/workflows and the action under .github/actions, plus the given
# directories' contents, committed and pushed to the bare remote $REMOTE.
new_consumer() {
  REMOTE="$T/remotes/$CONSUMER.git"
  W="$T/consumer"
  git init -q --bare "$REMOTE"
  git init -q "$W"
  mkdir -p "$W/.github/workflows" "$W/.github/actions"
  cp "$EX"/github/workflows/*.yml "$W/.github/workflows/"
  cp -r "$EX/github/actions/setup-rollout-tools" "$W/.github/actions/"
  local src
  for src in "$@"; do cp -r "$src/." "$W/"; done
  git -C "$W" add -A
  git -C "$W" commit -qm "consumer: initial"
  git -C "$W" remote add origin "https://github.com/$CONSUMER"
  git -C "$W" push -q origin main
}

# toolkit_repo [TAG]: the toolkit as it is under test (its tracked and new files, as in the
# work tree) committed in $src=$T/toolkit, tagged TAG when given, and pushed as
# acme/rollout-tools to its bare remote
toolkit_repo() {
  src="$T/toolkit"
  mkdir -p "$src"
  git -C "$ROOT" ls-files -z --cached --others --exclude-standard |
    (cd "$ROOT" && xargs -0 cp --parents -t "$src" 2>/dev/null || true)
  git init -q "$src"
  git -C "$src" add -A
  git -C "$src" commit -qm toolkit
  git init -q --bare "$T/remotes/acme/rollout-tools.git"
  if [ -n "${1:-}" ]; then git -C "$src" tag "$1"; fi
  git -C "$src" push -q "$T/remotes/acme/rollout-tools.git" HEAD:main ${1:+"$1"}
}

# rehearse EVENT WORKFLOW [act args...]: run one workflow of $W under act, with the prebuilt
# toolkit (TOOLS_BIN="" leaves the setup action to build it). Inputs come from
# $T/event.json (see `inputs`); the exit status is act's (non-zero when a job failed). act
# is stopped after ACT_TIMEOUT seconds (default 120).
rehearse() {
  local event=$1 wf=$2
  shift 2
  [ -f "$T/event.json" ] || echo '{}' > "$T/event.json"
  # a dispatch runs at the branch's tip (GITHUB_SHA); RERUN=1 re-runs an earlier run, which
  # GitHub does at that run's commit
  [ -n "${RERUN:-}" ] || git -C "$W" pull -q --ff-only origin main
  (
    cd "$W"
    PATH="$ROOT/tests/support/act/runner-bin:$T/standin-bin:$PATH" timeout "${ACT_TIMEOUT:-120}" "$ACT" "$event" \
      -W ".github/workflows/$wf" -e "$T/event.json" \
      -P ubuntu-24.04=-self-hosted --action-offline-mode --no-skip-checkout --no-cache-server \
      --local-repository "$CHECKOUT=$ROOT/tests/support/act/checkout" \
      --local-repository "$UPLOAD=$ROOT/tests/support/act/upload-artifact" \
      --local-repository "$CACHE=$ROOT/tests/support/act/cache" --env STANDIN_CACHE="$T/cache" \
      ${TOOLS_BIN-"--env=ROLLOUT_TOOLS_BIN_DIR=$T/tools"} \
      --env STANDIN_LOG="$STANDIN_LOG" --env STANDIN_ARTIFACTS="$STANDIN_ARTIFACTS" \
      --env STANDIN_SUMMARY="$SUMMARY" --env STANDIN_PY="$ROOT/tests/support/act/standin.py" \
      --env FAKE_GH_STATE="$FAKE_GH_STATE" --env FAKE_GH_LOG="$FAKE_GH_LOG" \
      --env FAKE_GH_REMOTE="$REMOTE" \
      --env ROLLOUT_NOW="$ROLLOUT_NOW" --env GITHUB_RUN_ID="${RUN_ID:-1001}" \
      --secret GITHUB_TOKEN=ghs_rehearsal_token \
      "${ACT_EXTRA[@]}" "$@"
  ) > "$T/act-$wf.log" 2>&1
  local status=$?
  # act itself crashing (a Go panic in the runner, seen once under --concurrent-jobs 12) is
  # not an outcome of the workflow: the run is repeated once, and the crash kept in the log
  if [ "$status" -ne 0 ] && [ -z "${ACT_RETRIED:-}" ] \
    && grep -q -E '^(panic|fatal error):' "$T/act-$wf.log"; then
    mv "$T/act-$wf.log" "$T/act-$wf.crashed.log"
    echo "# act crashed (see act-$wf.crashed.log); running $wf once more" >&3
    ACT_RETRIED=1 rehearse "$event" "$wf" "$@"
    return
  fi
  return "$status"
}

# inputs JSON: the dispatch event's inputs. GitHub's workflow_dispatch payload carries every
# input as a string ("true", "25"), and the `inputs` context types them by their
# declaration; act does the same only from strings (a JSON true reads as false), so the
# values are sent as GitHub sends them.
inputs() {
  python3 -c '
import json, sys
v = json.loads(sys.argv[1])
s = {k: (json.dumps(x) if isinstance(x, bool) else str(x)) for k, x in v.items()}
print(json.dumps({"inputs": s}))' "$1" > "$T/event.json"
}

# remote_log [BRANCH]: the subjects of the remote branch's commits, newest first
remote_log() {
  git --git-dir "$REMOTE" log --format=%s "${1:-main}"
}

# remote_files REV: the files the commit REV of the remote changed, sorted
remote_files() {
  git --git-dir "$REMOTE" diff-tree --no-commit-id --name-only -r "$1" | sort
}

# standin_calls ACTION: the stand-in log's entries of one action, one JSON per line
standin_calls() {
  grep "\"action\": \"$1\"" "$STANDIN_LOG" || true
}
