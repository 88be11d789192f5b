# shellcheck shell=bash
# shellcheck source=tests/docs/lib.sh
source "$REPO/tests/docs/lib.sh"
# a package "runtime" of org acme: the 40 versions of examples/prune, each tagged
# pending-N, pr-(N mod 6)-SHA7 and sha-SHA7; 20 of them for packages base and review;
# gh is the test stand-in, serving it and taking the deletions
listing() { # ORG PACKAGE [COUNT]
  jq -s --arg org "$1" --arg pkg "$2" --argjson n "${3:-40}" 'add | .[:$n] | to_entries | map(.key as $n | .value
    | .name[7:14] as $s
    | .metadata.container.tags = ["pending-\($n)", "pr-\($n % 6)-\($s)", "sha-\($s)"]
    | (.url, .html_url, .package_html_url) |= (sub("glitchwerks"; $org) | sub("claude-runtime-review"; $pkg)))' \
    "$REPO/examples/prune/versions.json"
}
listing acme runtime > versions.json
listing acme base 20 > base.json
listing acme review 20 > review.json
jq '{(.[0].name): [.[1].name, .[2].name]}' versions.json > index-map.json
jq '{"/orgs/acme/packages/container/runtime": .}' versions.json > gh-state.json
fake_gh
cp -R "$REPO/examples/pins" deploy-repo
start_registry
