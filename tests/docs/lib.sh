# shellcheck shell=bash
# Helpers of the README example setups (tests/it/doc_examples.rs sources NAME.sh in a fresh
# directory, REPO being the repository root). A setup leaves in the directory what its
# commands name, and writes:
#   .env            bash lines sourced before the commands
#   .substitutions  FROM<TAB>TO: an example host's URL and the loopback one standing for it
#   .pids           processes stopped when the block is done
# Every example runs with the clock and trace id of `make demo`.

# export NAME=VALUE for the commands
example_env() {
  printf 'export %s=%q\n' "$1" "$2" >> .env
}

# replace FROM by TO in the commands
substitute() {
  printf '%s\t%s\n' "$1" "$2" >> .substitutions
}

# copy examples/DIR... of the repository to the same place here
copy_examples() {
  mkdir -p examples
  for d in "$@"; do cp -R "$REPO/examples/$d" examples/; done
}

# start tests/support/health_server.py; its base URL in $health_base
start_health_server() {
  mkdir -p .health
  python3 "$REPO/tests/support/health_server.py" --state .health > /dev/null 2>&1 &
  echo $! >> .pids
  for _ in $(seq 100); do [ -s .health/port ] && break; sleep 0.05; done
  [ -s .health/port ] || { echo "health server did not start" >&2; return 1; }
  # shellcheck disable=SC2034  # read by the setup that sources this file
  health_base="http://127.0.0.1:$(cat .health/port)"
}

# a gates file and evidence that promote (for the policy-apply and orchestrate examples)
promoting_gates() {
  cat > gates.yaml <<'YAML'
schemaVersion: v1
kind: gates
params:
  maxErrorRate: {type: number, default: 0.02}
gates:
  - id: error_budget
    checks:
      - {code: error_rate_exceeded, value: .metrics.errorRate, max: $maxErrorRate}
YAML
  echo '{"metrics": {"errorRate": 0.004}}' > evidence.json
}

# the Flux repository of the examples: a bare remote flux.git seeded with examples/flux in
# one commit of fixed date and author, and a working clone ./flux
flux_remote() {
  cp -R "$REPO/examples/flux" seed
  local fx=(-c user.name=Fixture -c user.email=fixture@example.invalid -c init.defaultBranch=main)
  git -C seed "${fx[@]}" init -q
  git -C seed add -A
  GIT_AUTHOR_DATE=2026-11-20T00:00:00Z GIT_COMMITTER_DATE=2026-11-20T00:00:00Z \
    git -C seed "${fx[@]}" commit -qm "flux: initial"
  git clone -q --bare seed flux.git
  git clone -q flux.git flux
}

# a repository at DIR whose history is given as DATE FILE SUBJECT lines on stdin; a line
# "tag NAME" tags the commit before it
history_repo() {
  local dir=$1 date file subject
  local fx=(-c user.name=Fixture -c user.email=fixture@example.invalid -c init.defaultBranch=main)
  git "${fx[@]}" init -q "$dir"
  while read -r date file subject; do
    if [ "$date" = tag ]; then git -C "$dir" tag "$file"; continue; fi
    mkdir -p "$dir/$(dirname "$file")"
    echo "$subject" >> "$dir/$file"
    git -C "$dir" add -A
    GIT_AUTHOR_DATE=$date GIT_COMMITTER_DATE=$date git -C "$dir" "${fx[@]}" commit -qm "$subject"
  done
}

# the superloop-v1 evidence of the test fixtures at the paths given (status handoff drills)
superloop_evidence() {
  mkdir -p "$(dirname "$1")" "$(dirname "$2")" "$(dirname "$3")"
  cp "$REPO/tests/fixtures/gate/status-ok.json" "$1"
  cp "$REPO/tests/fixtures/gate/handoff-ok.jsonl" "$2"
  cp "$REPO/tests/fixtures/gate/drills-ok.json" "$3"
}

# gh: the test stand-in (tests/support/fake_gh.py), its state in gh-state.json
fake_gh() {
  mkdir -p bin
  printf '#!/bin/sh\nexec python3 %s "$@"\n' "$REPO/tests/support/fake_gh.py" > bin/gh
  chmod +x bin/gh
  [ -f gh-state.json ] || echo '{}' > gh-state.json
  example_env FAKE_GH_STATE "$PWD/gh-state.json"
  example_env FAKE_GH_LOG "$PWD/gh.log"
  example_env PATH "$PWD/bin:$PATH"
}

# a sha256 digest made of one repeated hex digit
digest_of() {
  printf 'sha256:%s' "$(printf "$1%.0s" $(seq 64))"
}

: > .env
: > .substitutions
: > .pids
example_env ROLLOUT_NOW 2026-11-21T08:00:00Z
example_env ROLLOUT_TRACE_ID doc-example

# start tests/support/oci_registry.py (TLS, htpasswd) and stand it in for ghcr.io/acme and
# Docker Hub's redis: the examples' images are seeded there. Credentials go to
# $HOME/.docker/config.json, the certificate to SSL_CERT_FILE; the registry in $registry.
start_registry() {
  mkdir -p .registry "$HOME/.docker"
  python3 "$REPO/tests/support/oci_registry.py" --state .registry > .registry.log 2>&1 &
  echo $! >> .pids
  for _ in $(seq 600); do [ -s .registry/port ] && break; sleep 0.05; done
  [ -s .registry/port ] || { cat .registry.log >&2; echo "registry did not start" >&2; return 1; }
  registry="127.0.0.1:$(cat .registry/port)"
  printf '{"auths":{"%s":{"auth":"%s"}}}\n' "$registry" "$(printf 'ci:canary-pw-3f9a1c' | base64)" \
    > "$HOME/.docker/config.json"
  example_env SSL_CERT_FILE "$PWD/.registry/cert.pem"
  substitute ghcr.io/acme "$registry/acme"
  substitute docker.io/library/redis "$registry/library/redis"
}
