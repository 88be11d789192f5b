#!/usr/bin/env bash
# make bench: each tool side by side with the baseline a user would otherwise use, on
# generated inputs. Writes target/bench/report.md (median time, peak memory, ratio).
# Installs what it needs (hyperfine, jq, GNU time) from Debian packages when missing.
set -euo pipefail
cd "$(dirname "$0")/.."
out=target/bench
data=$out/data
mkdir -p "$data"

need=()
command -v hyperfine >/dev/null || need+=(hyperfine)
command -v jq >/dev/null || need+=(jq)
[ -x /usr/bin/time ] || need+=(time)
if [ ${#need[@]} -gt 0 ]; then
  echo "bench: installing ${need[*]}" >&2
  SUDO=; [ "$(id -u)" -eq 0 ] || SUDO=sudo
  $SUDO apt-get update -qq
  $SUDO apt-get install -y -qq "${need[@]}" >/dev/null
fi

cargo build --release --bins --quiet
gate=$PWD/target/release/gate-eval

records=${BENCH_RECORDS:-1000000}
if [ ! -s "$data/big/handoff.jsonl" ] || [ "$(cat "$data/big/records" 2>/dev/null)" != "$records" ]; then
  echo "bench: generating $records handoff records" >&2
  mkdir -p "$data/big" "$data/small"
  python3 bench/gen_handoff.py "$records" "$data/big"
  echo "$records" > "$data/big/records"
fi
mkdir -p "$data/small"
[ -s "$data/small/handoff.jsonl" ] || python3 bench/gen_handoff.py 200 "$data/small"

evidence() {
  echo "--evidence status=$1/status.json --evidence handoff=$1/handoff.jsonl --evidence drills=$1/drills.json"
}
gate_cmd() { echo "$gate --preset superloop-v1 --now 2026-11-21T00:00:00Z --trace-id bench $(evidence "$1") --compact"; }
jq_cmd() { echo "jq -s --argjson n 20 -f bench/superloop-window.jq $1/handoff.jsonl"; }

# The two must agree before they are timed.
a=$($(gate_cmd "$data/big") --jq '.gates[1].checks[4].detail.denominator')
b=$($(jq_cmd "$data/big") | python3 -c 'import json,sys; print(float(json.load(sys.stdin)["attempted"]))')
[ "$a" = "$b" ] || { echo "bench: gate-eval ($a) and jq ($b) disagree on the window" >&2; exit 1; }

peak() { /usr/bin/time -f %M "$@" >/dev/null 2>"$out/time.txt" || true; tail -n 1 "$out/time.txt"; }

echo "bench: superloop-v1 over $records records" >&2
hyperfine -N --warmup 1 --runs 5 --export-json "$out/big.json" \
  -n gate-eval "$(gate_cmd "$data/big")" -n "jq 1.6 (slurp)" "$(jq_cmd "$data/big")" >&2
big_gate_mem=$(peak $(gate_cmd "$data/big"))
big_jq_mem=$(peak $(jq_cmd "$data/big"))

echo "bench: small evidence, process start to printed decision" >&2
hyperfine -N --warmup 5 --runs 100 --export-json "$out/small.json" \
  -n gate-eval "$(gate_cmd "$data/small")" -n "jq 1.6 (slurp)" "$(jq_cmd "$data/small")" >&2
small_gate_mem=$(peak $(gate_cmd "$data/small"))
small_jq_mem=$(peak $(jq_cmd "$data/small"))

# policy-apply: apply latency with an audit log of 1,000 and of 1,000,000 records, against
# the replaced approach (jq scanning the whole JSONL for the idempotency key).
apply=$PWD/target/release/policy-apply
policy_mem=()
for size in 1000 1000000; do
  d="$data/audit-$size"
  mkdir -p "$d"
  if [ ! -s "$d/audit.jsonl" ]; then
    echo "bench: generating an audit log of $size records" >&2
    python3 bench/gen_audit.py "$size" "$d/audit.jsonl"
  fi
  printf '%s\n' '{"policy": {"autonomous": {"rollout": {"canaryPercent": 0}, "governance": {}}}}' > "$d/registry.json"
  printf '%s\n' '{"schemaVersion":"v1","kind":"gate-decision","generatedAt":"2026-11-21T00:00:00Z","validUntil":"2099-01-01T00:00:00Z","subject":null,"traceId":"bench","summary":{"decision":"promote","reasonCodes":[]}}' > "$d/decision.json"
  cmd="$apply --registry $d/registry.json --audit-log $d/audit.jsonl --intent expand --step 1 --decision $d/decision.json --now 2026-11-21T00:00:00Z --actor bench --approval-ref CHG-1 --rationale bench --review-by 2026-12-01T00:00:00Z --trace-id bench --compact"
  echo "bench: policy-apply with $size audit records" >&2
  hyperfine -N --warmup 3 --runs 40 --export-json "$out/apply-$size.json" -n policy-apply "$cmd" >&2
  runs=$([ "$size" -gt 100000 ] && echo 3 || echo 20)
  hyperfine -N --warmup 1 --runs "$runs" --export-json "$out/jqkey-$size.json" \
    -n "jq key lookup" "jq -c --arg k key-$((size / 2)) 'select(.idempotencyKey == \$k)' $d/audit.jsonl" >&2
  policy_mem+=("$(peak $cmd)" "$(peak jq -c --arg k "key-$((size / 2))" 'select(.idempotencyKey == $k)' "$d/audit.jsonl")")
done

python3 - "$out" "$records" "$big_gate_mem" "$big_jq_mem" "$small_gate_mem" "$small_jq_mem" "${policy_mem[@]}" <<'PY'
import json, sys, platform, os
out, records, bg, bj, sg, sj, pa1, pj1, pa2, pj2 = sys.argv[1], int(sys.argv[2]), *map(int, sys.argv[3:])
def load(name):
    r = json.load(open(f"{out}/{name}.json"))["results"]
    return {x["command"]: x["median"] for x in r}
big, small = load("big"), load("small")
rows = []
def row(bench, tool, med, mem, base_med, base_mem, target):
    ratio = base_med / med if tool in ("gate-eval", "policy-apply") else 1.0
    rows.append(f"| {bench} | {tool} | {med*1000:.1f} ms | {mem/1024:.1f} MiB | "
                f"{ratio:.1f}x | {target} |")
g, j = big["gate-eval"], big["jq 1.6 (slurp)"]
big_ok = j / g >= 10 and bg / 1024 <= 64
row(f"superloop-v1, {records:,} JSONL records", "gate-eval", g, bg, j, bj,
    f"≥10x faster, ≤64 MiB: {'met' if big_ok else 'NOT met'}")
row(f"superloop-v1, {records:,} JSONL records", "jq 1.6 (slurp)", j, bj, j, bj, "baseline")
g2, j2 = small["gate-eval"], small["jq 1.6 (slurp)"]
small_ok = g2 * 1000 <= 5
row("small evidence, start to decision", "gate-eval", g2, sg, j2, sj,
    f"≤5 ms median: {'met' if small_ok else 'NOT met'}")
row("small evidence, start to decision", "jq 1.6 (slurp)", j2, sj, j2, sj, "baseline")
def one(name):
    return json.load(open(f"{out}/{name}.json"))["results"][0]["median"]
a1, a2, q1, q2 = one("apply-1000"), one("apply-1000000"), one("jqkey-1000"), one("jqkey-1000000")
growth = a2 / a1
apply_ok = a1 * 1000 <= 10 and a2 * 1000 <= 10 and growth <= 1.5
row("apply, audit log of 1,000", "policy-apply", a1, pa1, q1, pj1, f"≤10 ms median: {'met' if a1 * 1000 <= 10 else 'NOT met'}")
row("apply, audit log of 1,000", "jq key lookup (replaced)", q1, pj1, q1, pj1, "baseline")
row("apply, audit log of 1,000,000", "policy-apply", a2, pa2, q2, pj2,
    f"≤10 ms median, ≤1.5x the 1,000 case ({growth:.2f}x): {'met' if apply_ok else 'NOT met'}")
row("apply, audit log of 1,000,000", "jq key lookup (replaced)", q2, pj2, q2, pj2, "baseline")
report = ["# rollout-tools benchmarks", "",
          f"Machine: {os.cpu_count()} cores, {platform.machine()}; medians from hyperfine, "
          "peak memory (max RSS) from GNU time. Ratio = baseline median / tool median.", "",
          "| benchmark | tool | median | peak memory | ratio | target |",
          "|---|---|---|---|---|---|", *rows, ""]
open(f"{out}/report.md", "w").write("\n".join(report))
print("\n".join(report))
PY
