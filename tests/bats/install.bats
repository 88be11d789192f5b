#!/usr/bin/env bats
# How users install and build the toolkit: a cargo target directory shared between projects
# (CARGO_TARGET_DIR) is where make looks for the binaries.

teardown() {
  if [ -n "${HTTP_PID:-}" ]; then kill "$HTTP_PID" 2>/dev/null || true; fi
}

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
  for t in gate-eval policy-apply digest-pin tag-bump prune-plan freshness-check health-probe image-resolve; do
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

# --- make dist: the release archive --------------------------------------------------------

@test "make dist: a reproducible archive that installs by unpacking, with its SHA256SUMS" {
  run make -s -C "$ROOT" dist DIST_DIR="$TMP/dist"
  echo "$output"
  assert_success
  version=$(sed -n '/^\[workspace\.package\]/,/^\[/s/^version = "\(.*\)"$/\1/p' "$ROOT/Cargo.toml")
  target=$(rustc -vV | sed -n 's/^host: //p')
  name="rollout-tools-$version-$target"
  archive="$TMP/dist/$name.tar.gz"
  [ -s "$archive" ]
  (cd "$TMP/dist" && sha256sum -c SHA256SUMS)

  # sorted entries, one top directory, every mtime the commit's, owner root, no build path
  run tar -tzf "$archive"
  assert_success
  assert_equal "$output" "$(tar -tzf "$archive" | LC_ALL=C sort)"
  refute_line --regexp "^[^/]*[^/]$"
  run bash -c "tar -tzf '$archive' | cut -d/ -f1 | sort -u"
  assert_output "$name"
  epoch=$(git -C "$ROOT" log -1 --format=%ct)
  run bash -c "tar --full-time -tvzf '$archive' | awk '{print \$2, \$4\" \"\$5}' | sort -u"
  assert_output "0/0 $(TZ=UTC date -d "@$epoch" '+%Y-%m-%d %H:%M:%S')"
  run tar -tzf "$archive"
  for t in gate-eval policy-apply digest-pin tag-bump prune-plan freshness-check health-probe image-resolve \
    rollout-orchestrate rollout-gate-config rollout-tag rollout-lib.sh; do
    assert_line "$name/bin/$t"
  done
  for page in "$ROOT"/man/*.1; do assert_line "$name/share/man/man1/$(basename "$page")"; done
  assert_line "$name/share/bash-completion/completions/tag-bump"
  assert_line "$name/share/zsh/site-functions/_tag-bump"
  assert_line "$name/share/fish/vendor_completions.d/tag-bump.fish"
  assert_line "$name/share/rollout-tools/presets/oci-labels.yaml"
  assert_line "$name/README.md"
  assert_line "$name/LICENSE"

  # the README's install commands as written, the releases on loopback instead of GitHub
  # (and the host's target for x86_64-unknown-linux-gnu)
  mkdir -p "$TMP/releases/v$version" "$TMP/home" "$TMP/download"
  cp "$TMP/dist"/* "$TMP/releases/v$version/"
  python3 -u -m http.server 0 --bind 127.0.0.1 --directory "$TMP/releases" > "$TMP/http.out" 2>/dev/null 3>&- &
  HTTP_PID=$!
  for _ in $(seq 100); do grep -q ' port ' "$TMP/http.out" 2>/dev/null && break; sleep 0.1; done
  port=$(sed -n 's/.* port \([0-9]*\) .*/\1/p' "$TMP/http.out")
  python3 - "$ROOT/README.md" "http://127.0.0.1:$port" "$target" > "$TMP/install.sh" <<'PY'
import re, sys
text = open(sys.argv[1]).read()
block = re.search(r"<!-- install: release -->\n```sh\n(.*?)```", text, re.S).group(1)
gh = "https://github.com/$repo/releases/download"
assert gh in block and "target=x86_64-unknown-linux-gnu" in block
print(block.replace(gh, sys.argv[2]).replace("target=x86_64-unknown-linux-gnu", "target=" + sys.argv[3]))
PY
  run env HOME="$TMP/home" PATH="$SYSTEM_PATH" bash -e -c "cd '$TMP/download' && . '$TMP/install.sh'"
  echo "$output"
  assert_success
  assert_line "rollout-tools-$version-$target.tar.gz: OK"
  assert_line "tag-bump $version"
  [ -x "$TMP/home/.local/bin/rollout-orchestrate" ]
  [ -f "$TMP/home/.local/share/man/man1/tag-bump.1" ]

  # packed again from the same commit: the same bytes
  sum=$(sha256sum "$archive" | cut -d' ' -f1)
  run make -s -C "$ROOT" dist DIST_DIR="$TMP/dist2"
  assert_success
  assert_equal "$(sha256sum "$TMP/dist2/$name.tar.gz" | cut -d' ' -f1)" "$sum"

  # unpacked into an empty directory, with nothing else of the project on PATH
  mkdir "$TMP/prefix"
  tar -xzf "$archive" -C "$TMP/prefix" --strip-components=1
  for p in "$ROOT" "${CARGO_HOME:-$HOME/.cargo}"; do
    run grep -rlF "$p" "$TMP/prefix/bin"
    assert_output ""
  done
  export PATH="$TMP/prefix/bin:$SYSTEM_PATH"
  for t in gate-eval policy-apply digest-pin tag-bump prune-plan freshness-check health-probe image-resolve; do
    run "$t" --version
    assert_success
    assert_output "$t $version"
    [ "$(command -v "$t")" = "$TMP/prefix/bin/$t" ]
  done
  for page in "$TMP"/prefix/share/man/man1/*.1; do
    run --separate-stderr env MANWIDTH=80 man -l "$page"
    assert_success
    [ -z "$stderr" ]
    [[ "${lines[0],,}" == "$(basename "$page" .1)(1) "* ]]
    [[ "$output" == *NAME*DESCRIPTION* || "$output" == *NAME*SYNOPSIS* ]]
  done
  run env DEMO_OUT="$TMP/demo" "$ROOT/examples/demo/demo.sh"
  echo "$output"
  assert_success
  [[ "$output" == *"audit chain ok=true, 3 records"* ]]
}

# --- cargo install ---------------------------------------------------------------------------

@test "cargo install --locked --path . and --git install all eight binaries" {
  # make dist's build directory and flags, so that the release build is not made again
  build=${DIST_BUILD_DIR:-/tmp/rollout-tools-dist}
  cargo_home=$(cd "${CARGO_HOME:-$HOME/.cargo}" && pwd)
  target=$(rustc -vV | sed -n 's/^host: //p')
  export RUSTFLAGS="--remap-path-prefix=$cargo_home=cargo" CARGO_TARGET_DIR="$build"
  run cargo install --quiet --locked --path "$ROOT" --root "$TMP/root" --target "$target"
  echo "$output"
  assert_success
  run ls "$TMP/root/bin"
  assert_output "$(printf '%s\n' digest-pin freshness-check gate-eval health-probe image-resolve policy-apply prune-plan tag-bump)"
  for t in gate-eval policy-apply digest-pin tag-bump prune-plan freshness-check health-probe image-resolve; do
    run "$TMP/root/bin/$t" --version
    assert_success
    assert_output --regexp "^$t [0-9]"
  done
  # --git: the committed tree of a clone (what `cargo install --git URL rollout-tools`
  # fetches; the package is named, since the repository also holds xtask and the fuzzer)
  git clone -q "$ROOT" "$TMP/clone"
  run cargo install --quiet --locked --git "file://$TMP/clone" --root "$TMP/root-git" --target "$target" rollout-tools
  echo "$output"
  assert_success
  assert_equal "$(ls "$TMP/root-git/bin" | wc -l)" 8
  run "$TMP/root-git/bin/tag-bump" --version
  assert_success
}
