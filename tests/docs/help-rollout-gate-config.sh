# shellcheck shell=bash
# shellcheck source=tests/docs/lib.sh
source "$REPO/tests/docs/lib.sh"
fake_gh
example_env GH_TOKEN gho-doc-example-token
example_env ROLLOUT_POLL_SECONDS 0
printf '%s\n' https://payments.example.com/healthz https://payments.example.com/readyz > health-urls.txt
