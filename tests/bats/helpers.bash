# Shared set-up for the bats suites: assertions, a scratch dir, a fixed clock.
bats_require_minimum_version 1.5.0

setup_common() {
  load 'node_modules/bats-support/load'
  load 'node_modules/bats-assert/load'
  ROOT="$(cd "$BATS_TEST_DIRNAME/../.." && pwd)"
  FX="$ROOT/tests/fixtures"
  EX="$ROOT/examples"
  TMP="$BATS_TEST_TMPDIR"
  export ROLLOUT_NOW=2026-11-21T08:00:00Z
  unset ROLLOUT_TRACE_ID ROLLOUT_JSON_ERRORS GITHUB_ACTIONS GITHUB_STEP_SUMMARY
}

# json_get FILE PATH: print a value of a JSON (or, one per line, JSONL) file, like `jq -r`.
# PATH is a Python expression over `d`, e.g. 'd["summary"]["decision"]'. No jq needed.
json_get() {
  python3 - "$1" "$2" <<'PY'
import json, sys
path, expr = sys.argv[1], sys.argv[2]
text = open(path).read()
docs = [json.loads(l) for l in text.splitlines() if l.strip()] if path.endswith(".jsonl") else [json.loads(text)]
for d in docs:
    v = eval(expr, {"d": d})
    print(v if isinstance(v, str) else json.dumps(v))
PY
}

# start_health_server [--tls]: tests/support/health_server.py in the background on
# 127.0.0.1; sets BASE (its URL) and SERVER_STATE (port, access.log, cert.pem). A suite that
# uses it defines `teardown() { stop_server; }` (helpers are loaded in setup, after the
# suite's own functions, so they define no teardown themselves).
start_health_server() {
  SERVER_STATE="$TMP/server"
  mkdir -p "$SERVER_STATE"
  python3 "$ROOT/tests/support/health_server.py" --state "$SERVER_STATE" "$@" 3>&- &
  SERVER_PID=$!
  for _ in $(seq 300); do [ -s "$SERVER_STATE/port" ] && break; sleep 0.1; done
  local scheme=http
  [ "${1:-}" = --tls ] && scheme=https
  BASE="$scheme://127.0.0.1:$(cat "$SERVER_STATE/port")"
}

# start_registry [ARGS]: tests/support/oci_registry.py (docker-registry with TLS and
# htpasswd, seeded) in the background; sets REGISTRY_STATE (port, front-port, cert.pem,
# digests.json, front.log) and REGISTRY_FRONT (the front's host:port, which logs every
# request), and writes $TMP/docker/config.json with the registry's credentials for
# DOCKER_CONFIG. Stopped by stop_server.
start_registry() {
  REGISTRY_STATE="$TMP/registry"
  mkdir -p "$REGISTRY_STATE" "$TMP/docker"
  python3 "$ROOT/tests/support/oci_registry.py" --state "$REGISTRY_STATE" "$@" \
    > "$TMP/registry.log" 2>&1 3>&- &
  SERVER_PID=$!
  for _ in $(seq 600); do [ -s "$REGISTRY_STATE/port" ] && break; sleep 0.1; done
  [ -s "$REGISTRY_STATE/port" ] || { cat "$TMP/registry.log"; return 1; }
  REGISTRY_FRONT="127.0.0.1:$(cat "$REGISTRY_STATE/front-port")"
  printf '{"auths":{"%s":{"auth":"%s"}}}\n' "$REGISTRY_FRONT" \
    "$(printf 'ci:canary-pw-3f9a1c' | base64)" > "$TMP/docker/config.json"
}

stop_server() {
  if [ -n "${SERVER_PID:-}" ]; then kill "$SERVER_PID" 2>/dev/null || true; fi
}

# registry_state LISTING PKG [EXTRA]: the fake gh state serving a GitHub Packages listing
# (pages printed back to back, as `gh api --paginate` does) under PKG, newest first, plus
# EXTRA more old pending-* builds made up from the oldest version
registry_state() {
  python3 - "$1" "$2" "${3:-0}" <<'PY'
import hashlib, json, sys
text, dec, pos, versions = open(sys.argv[1]).read(), json.JSONDecoder(), 0, []
while pos < len(text.rstrip()):
    while text[pos].isspace():
        pos += 1
    page, pos = dec.raw_decode(text, pos)
    versions += page
for i in range(int(sys.argv[3])):
    v = json.loads(json.dumps(versions[-1]))
    v["id"] = 200000000 + i
    v["name"] = "sha256:" + hashlib.sha256(b"extra%d" % i).hexdigest()
    v["url"] = v["url"].rsplit("/", 1)[0] + "/" + str(v["id"])
    sha = hashlib.sha1(b"extra%d" % i).hexdigest()
    v["metadata"]["container"]["tags"] = ["pending-" + sha, sha]
    versions.append(v)
print(json.dumps({sys.argv[2]: versions}))
PY
}
