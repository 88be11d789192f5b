# shellcheck shell=bash
# shellcheck source=tests/docs/lib.sh
source "$REPO/tests/docs/lib.sh"
flux_remote
substitute https://git.example.com/org/flux.git "file://$PWD/flux.git"
example_env GITHUB_SHA a1b2c3d4e5f60718293a4b5c6d7e8f9012345678
