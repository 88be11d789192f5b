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

python3 - "$out" "$records" "$big_gate_mem" "$big_jq_mem" "$small_gate_mem" "$small_jq_mem" <<'PY'
import json, sys, platform, os
out, records, bg, bj, sg, sj = sys.argv[1], int(sys.argv[2]), *map(int, sys.argv[3:])
def load(name):
    r = json.load(open(f"{out}/{name}.json"))["results"]
    return {x["command"]: x["median"] for x in r}
big, small = load("big"), load("small")
rows = []
def row(bench, tool, med, mem, base_med, base_mem, target):
    ratio = base_med / med if tool == "gate-eval" else 1.0
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
report = ["# rollout-tools benchmarks", "",
          f"Machine: {os.cpu_count()} cores, {platform.machine()}; medians from hyperfine, "
          "peak memory (max RSS) from GNU time. Ratio = baseline median / tool median.", "",
          "| benchmark | tool | median | peak memory | ratio | target |",
          "|---|---|---|---|---|---|", *rows, ""]
open(f"{out}/report.md", "w").write("\n".join(report))
print("\n".join(report))
PY
