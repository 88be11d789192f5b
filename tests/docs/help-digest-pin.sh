# shellcheck shell=bash
# shellcheck source=tests/docs/lib.sh
source "$REPO/tests/docs/lib.sh"
# the workflows of examples/pins, and a release recorded before (the one rolled back to)
mkdir -p .github
cp -R "$REPO/examples/pins/.github/workflows" .github/
digest-pin .github/workflows --record --baseline --ledger .rollout/digests.jsonl \
  --release 5f3e2d1c0b9a8f7e6d5c4b3a2f1e0d9c8b7a6f5e > /dev/null
example_env REVIEW_DIGEST "$(digest_of 1)"
example_env FIX_DIGEST "$(digest_of 2)"
example_env EXPLAIN_DIGEST "$(digest_of 3)"
example_env GITHUB_SHA a1b2c3d4e5f60718293a4b5c6d7e8f9012345678
cat > release.json <<JSON
{"schemaVersion": "v1", "kind": "digest-set", "release": "2026.12.0",
 "images": {"claude-runtime-review": "$(digest_of 4)", "claude-runtime-fix": "$(digest_of 5)"}}
JSON
