# shellcheck shell=bash
# shellcheck source=tests/docs/lib.sh
source "$REPO/tests/docs/lib.sh"
copy_examples pins
example_env REVIEW_DIGEST "sha256:$(printf r%.0s {1..64} | tr r 1)"
example_env FIX_DIGEST "sha256:$(printf f%.0s {1..64} | tr f 2)"
example_env EXPLAIN_DIGEST "sha256:$(printf e%.0s {1..64} | tr e 3)"
# what the release 2026.11.0 pins (the tree as committed), for the drift check
digest-pin scan --root examples/pins > release.json
