#!/usr/bin/env bats
# How users install and build the toolkit: a cargo target directory shared between projects
# (CARGO_TARGET_DIR) is where make looks for the binaries.

setup() {
  load helpers
  setup_common
  # the tools this suite runs with, and a system PATH without them
  TOOLS_DIR="$(dirname "$(command -v gate-eval)")"
  SYSTEM_PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin
}

# copy_tree DIR: the project's tracked files (as they are in the work tree), without target/
copy_tree() {
  mkdir -p "$1"
  git -C "$ROOT" ls-files -z --cached --others --exclude-standard \
    | tar -C "$ROOT" --null -T - -cf - 2>/dev/null | tar -C "$1" -xf -
}

@test "make demo finds the tools in CARGO_TARGET_DIR, not only in ./target" {
  copy_tree "$TMP/src"
  [ ! -e "$TMP/src/target" ]
  mkdir -p "$TMP/shared/debug"
  for t in gate-eval policy-apply digest-pin tag-bump prune-plan freshness-check health-probe; do
    ln -s "$TOOLS_DIR/$t" "$TMP/shared/debug/$t"
  done
  # CARGO=true: the binaries are already built; make only has to find them
  run env -u ROLLOUT_BIN PATH="$SYSTEM_PATH" DEMO_OUT="$TMP/demo" \
    make -s -C "$TMP/src" demo CARGO=true CARGO_TARGET_DIR="$TMP/shared"
  echo "$output"
  assert_success
  [[ "$output" == *"audit chain ok=true, 3 records"* ]]
  # a relative CARGO_TARGET_DIR is cargo's: relative to the directory make runs in
  ln -s "$TMP/shared" "$TMP/src/shared-target"
  run env -u ROLLOUT_BIN PATH="$SYSTEM_PATH" DEMO_OUT="$TMP/demo2" \
    make -s -C "$TMP/src" demo CARGO=true CARGO_TARGET_DIR=shared-target
  assert_success
  # the control: without it, the copy has no tools to run
  run env -u ROLLOUT_BIN PATH="$SYSTEM_PATH" DEMO_OUT="$TMP/demo3" \
    make -s -C "$TMP/src" demo CARGO=true
  assert_failure
  [[ "$output" == *"gate-eval: command not found"* ]]
}
