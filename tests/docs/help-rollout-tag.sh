# shellcheck shell=bash
# shellcheck source=tests/docs/lib.sh
source "$REPO/tests/docs/lib.sh"
# the staging environment's Flux repository, and the application repository of the PR
# (the current directory) on its branch, its PR number known to gh
flux_remote
cat > environments.json <<JSON
{"environments": {"staging": {"fluxRepo": "file://$PWD/flux.git", "type": "github"}}}
JSON
example_env ROLLOUT_ENVIRONMENTS "$PWD/environments.json"
example_env ROLLOUT_CACHE_DIR "$PWD/cache"
git -c user.name=Fixture -c user.email=fixture@example.invalid -c init.defaultBranch=main init -q .
git add environments.json
git -c user.name=Fixture -c user.email=fixture@example.invalid commit -qm "app: change"
fake_gh
example_env FAKE_GH_PR 42
