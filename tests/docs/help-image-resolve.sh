# shellcheck shell=bash
# shellcheck source=tests/docs/lib.sh
source "$REPO/tests/docs/lib.sh"
start_registry
example_env TAG v1.4.2
example_env GITHUB_SHA aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa
example_env RECORDED "$(jq -r '."org/app:v1"' .registry/digests.json)"
mkdir -p .github/workflows
old=sha256:1111111111111111111111111111111111111111111111111111111111111111
cat > .github/workflows/deploy.yml <<YAML
jobs:
  deploy:
    runs-on: ubuntu-24.04
    steps:
      - run: deploy $registry/acme/web@$old $registry/acme/api@$old
YAML
