#!/usr/bin/env bash
# make bench: each tool side by side with the baseline a user would otherwise use, on
# generated inputs. Writes target/bench/report.md (median time, peak memory, ratio).
# Installs what it needs (hyperfine, jq, GNU time, yq) from Debian packages when missing.
set -euo pipefail
cd "$(dirname "$0")/.."
out=target/bench
data=$out/data
mkdir -p "$data"

need=()
command -v hyperfine >/dev/null || need+=(hyperfine)
command -v jq >/dev/null || need+=(jq)
[ -x /usr/bin/time ] || need+=(time)
command -v yq >/dev/null || need+=(yq)
if [ ${#need[@]} -gt 0 ]; then
  echo "bench: installing ${need[*]}" >&2
  SUDO=; [ "$(id -u)" -eq 0 ] || SUDO=sudo
  $SUDO apt-get update -qq
  $SUDO apt-get install -y -qq "${need[@]}" >/dev/null
fi

cargo build --release --bins --quiet
# cargo's target directory (CARGO_TARGET_DIR when a user shares one)
rel=$(cd "${CARGO_TARGET_DIR:-target}" && pwd)/release
gate=$rel/gate-eval

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
apply=$rel/policy-apply
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

# digest-pin: a 20,000-file tree (about 240 MB, 1% holding pins of three images). The
# rewrite against grep -rlZ | xargs -0 sed -i doing the same substitution, and the scan
# against grep -rEc. Before every timed rewrite the tree is put back to the old digests.
pin=$rel/digest-pin
tree=$data/tree
if [ ! -s "$data/tree.files" ]; then
  echo "bench: generating a tree of 20,000 files" >&2
  rm -rf "$tree"
  python3 bench/gen_tree.py 20000 "$tree" > /dev/null
  find "$tree" -type f | wc -l > "$data/tree.files"
fi
R=776980ed9009fe17dfdb782960978bd573842dc867728bd4e63d734871cdeef1
F=da2b6e52ad20159252cb6f24147d4ece221182dbb0b21df9fb32966126e24a20
E=23dd59f2651ebc9aba93b5c143d5b78d256c8abe1ebf970ad9c218f6aa06ff77
N1=0e5751c026e543b2e8ab2eb06099daa1d1e5df47778f7787faab45cdf12fe3a8
N2=7d865e959b2466918c9863afca942d0fb89d7c9ac0c99bafc3749504ded97730
N3=2c624232cdd221771294dfbb310aca000a0df6ac8b66b696d90ef06fdefb64a3
reset="$pin --root $tree --set claude-runtime-review=$R --set claude-runtime-fix=$F --set claude-runtime-explain=$E --compact"
promote="$pin --root $tree --set claude-runtime-review=$N1 --set claude-runtime-fix=$N2 --set claude-runtime-explain=$N3 --expect 600 --compact"
sed_way="grep -rlZ -E 'claude-runtime-(review|fix|explain)@sha256:[a-f0-9]{64}' $tree | xargs -0 sed -i -E -e 's#(claude-runtime-review)@sha256:[a-f0-9]{64}#\\1@sha256:$N1#g' -e 's#(claude-runtime-fix)@sha256:[a-f0-9]{64}#\\1@sha256:$N2#g' -e 's#(claude-runtime-explain)@sha256:[a-f0-9]{64}#\\1@sha256:$N3#g'"
# The two must agree: after either, digest-pin --check of the new set is in sync.
$reset > /dev/null; bash -c "$sed_way"
$pin --root "$tree" --check --compact --jq .inSync \
  --set claude-runtime-review=$N1 --set claude-runtime-fix=$N2 --set claude-runtime-explain=$N3 | grep -qx true \
  || { echo "bench: sed and digest-pin disagree on the rewrite" >&2; exit 1; }
echo "bench: digest-pin rewrite over 20,000 files" >&2
hyperfine --warmup 2 --runs 15 --prepare "$reset" --export-json "$out/pin-rewrite.json" \
  -n digest-pin "$promote > /dev/null" -n "grep -rlZ | xargs sed -i" "$sed_way" >&2
$reset > /dev/null
pin_mem=$(peak $promote)
$reset > /dev/null
echo "bench: digest-pin scan over 20,000 files" >&2
hyperfine -N --warmup 2 --runs 15 --export-json "$out/pin-scan.json" \
  -n "digest-pin scan" "$pin scan --root $tree --compact" \
  -n "grep -rEc" "grep -rEc @sha256:[a-f0-9]{64} $tree" >&2
scan_mem=$(peak $pin scan --root "$tree" --compact)
printf '{"rewrite": %s, "scan": %s}\n' "$pin_mem" "$scan_mem" > "$out/pin-mem.json"

# tag-bump: one tag in a kustomization of 5,000 images, against Debian's yq (python, -y -i)
# and a sed one-liner; then edit + commit + push to a local bare remote against
# sed && git add && git commit && git push. Every run starts from the same state.
bump=$rel/tag-bump
kdir=$data/bump-edit
rm -rf "$kdir"; mkdir -p "$kdir"
python3 bench/gen_kustomization.py 5000 "$kdir/orig.yaml"
cp "$kdir/orig.yaml" "$kdir/kustomization.yaml"
git -C "$kdir" init -q
kreset="cp $kdir/orig.yaml $kdir/kustomization.yaml"
bump_edit="$bump --repo $kdir --file kustomization.yaml --image svc-02500 --tag pr-9999-abcdef0 --compact"
yq_edit="yq -y -i '(.images[] | select(.name == \"svc-02500\") | .newTag) = \"pr-9999-abcdef0\"' $kdir/kustomization.yaml"
sed_edit="sed -i '/name: svc-02500 /,/newTag:/ s/newTag: [^ ]*/newTag: pr-9999-abcdef0/' $kdir/kustomization.yaml"
for way in "$bump_edit" "$yq_edit" "$sed_edit"; do
  $kreset; bash -c "$way" > /dev/null 2>&1
  [ "$(yq -r '.images[] | select(.name == "svc-02500") | .newTag' "$kdir/kustomization.yaml")" = pr-9999-abcdef0 ] \
    || { echo "bench: $way did not set the tag" >&2; exit 1; }
done
$kreset; $bump_edit > /dev/null 2>&1; cmp -s <(diff "$kdir/orig.yaml" "$kdir/kustomization.yaml" | grep -c '^[<>]') <(echo 2) \
  || { echo "bench: tag-bump changed more than one line" >&2; exit 1; }
echo "bench: one tag in a kustomization of 5,000 images" >&2
hyperfine --warmup 3 --runs 30 --prepare "$kreset" --export-json "$out/bump-edit.json" \
  -n tag-bump "$bump_edit > /dev/null 2>&1" -n "yq -y -i" "$yq_edit" -n "sed -i" "$sed_edit" >&2
$kreset; bump_mem=$(peak $bump_edit)

gdir=$data/bump-git
rm -rf "$gdir"; mkdir -p "$gdir"
cp -r examples/flux "$gdir/seed"
git -C "$gdir/seed" init -q -b main
git -C "$gdir/seed" add -A
git -C "$gdir/seed" -c user.name=b -c user.email=b@example.invalid commit -qm seed
git clone -q --bare "$gdir/seed" "$gdir/remote.git"
git clone -q "$gdir/remote.git" "$gdir/work"
base=$(git -C "$gdir/work" rev-parse HEAD)
greset="git -C $gdir/work reset -q --hard $base && git -C $gdir/remote.git update-ref refs/heads/main $base"
bump_push="$bump --repo $gdir/work --service papi --tag pr-9999-abcdef0 --push --author 'b <b@example.invalid>' --compact"
git_push="sed -i 's/newTag: pr-41-0a1b2c3/newTag: pr-9999-abcdef0/' $gdir/work/apps/backend-services/kustomization.yaml && git -C $gdir/work add apps/backend-services/kustomization.yaml && git -C $gdir/work -c user.name=b -c user.email=b@example.invalid commit -qm 'chore(backend-services): update image tag to pr-9999-abcdef0' && git -C $gdir/work push -q origin HEAD:refs/heads/main"
echo "bench: edit + commit + push to a local bare remote" >&2
hyperfine --warmup 3 --runs 30 --prepare "$greset" --export-json "$out/bump-push.json" \
  -n "tag-bump --push" "$bump_push > /dev/null 2>&1" -n "sed && git add && git commit && git push" "$git_push" >&2
bash -c "$greset"
printf '{"edit": %s}\n' "$bump_mem" > "$out/bump-mem.json"

# tag-bump --clone on a fresh runner (an empty workdir every run): a Flux repository with
# 20,000 commits of history, over loopback HTTPS (git http-backend behind TLS, a token) and
# over file://, against git clone --depth 1 + sed + commit + push. The remote is reset
# before each run, so every run pushes.
cdir=$PWD/$data/bump-clone
# flux_history N BARE: the example Flux repository with N commits of history on top (each
# changes one of 500 log files), served as the bare repository BARE.
flux_history() {
  local n=$1 bare=$2 seed
  seed=$(mktemp -d)
  cp -r examples/flux/. "$seed"
  git -C "$seed" init -q -b main
  git -C "$seed" add -A
  git -C "$seed" -c user.name=b -c user.email=b@example.invalid commit -qm seed
  python3 - "$seed" "$n" <<'PY'
import subprocess, sys
out = ["reset refs/heads/main\nfrom refs/heads/main^0\n"]
for i in range(int(sys.argv[2])):
    body = f"entry {i}\n" * 20
    out.append(f"commit refs/heads/main\ncommitter b <b@example.invalid> {1700000000 + i} +0000\n"
               f"data {len(f'c{i}')}\nc{i}\nM 644 inline history/log-{i % 500}.txt\ndata {len(body)}\n{body}\n")
subprocess.run(["git", "-C", sys.argv[1], "fast-import", "--quiet"], input="".join(out).encode(), check=True)
PY
  rm -rf "$bare"
  git clone -q --bare "$seed" "$bare"
  git -C "$bare" repack -adq
  rm -rf "$seed"
}
if [ ! -s "$cdir/commits" ] || [ "$(cat "$cdir/commits")" != 20000 ]; then
  echo "bench: generating a Flux repository of 20,000 commits" >&2
  rm -rf "$cdir"; mkdir -p "$cdir/srv" "$cdir/state"
  flux_history 20000 "$cdir/srv/flux.git"
  echo 20000 > "$cdir/commits"
fi
# the same repository five times as deep: a fresh clone should cost the same
if [ ! -s "$cdir/commits-100k" ]; then
  echo "bench: generating a Flux repository of 100,000 commits" >&2
  flux_history 100000 "$cdir/srv/flux-100k.git"
  echo 100000 > "$cdir/commits-100k"
fi
# a port file left by an earlier run would name a server that is gone
rm -f "$cdir/state/port"
python3 tests/support/git_https_server.py --root "$cdir/srv" --state "$cdir/state" --token bench-token >/dev/null 2>&1 &
server=$!
trap 'kill $server 2>/dev/null || true' EXIT
for _ in $(seq 100); do [ -s "$cdir/state/port" ] && break; sleep 0.1; done
port=$(cat "$cdir/state/port")
base=$(git -C "$cdir/srv/flux.git" rev-parse main)
creset="rm -rf $cdir/wd $cdir/g && git -C $cdir/srv/flux.git update-ref refs/heads/main $base"
export SSL_CERT_FILE=$cdir/state/cert.pem GIT_SSL_CAINFO=$cdir/state/cert.pem
git_clone_push() {
  echo "git clone -q --depth 1 --single-branch -b main $1 $cdir/g && sed -i '0,/newTag: .*/s//newTag: pr-9999-abcdef0/' $cdir/g/apps/backend-services/kustomization.yaml && git -C $cdir/g -c user.name=b -c user.email=b@example.invalid commit -qam 'chore: update image tag' && git -C $cdir/g push -q origin HEAD:refs/heads/main"
}
for via in https file; do
  if [ $via = https ]; then url=https://127.0.0.1:$port/flux.git; gurl=https://x:bench-token@127.0.0.1:$port/flux.git
  else url=file://$cdir/srv/flux.git; gurl=$url; fi
  bump_clone="GITHUB_TOKEN=bench-token $bump --clone $url --workdir $cdir/wd --service papi --tag pr-9999-abcdef0 --push --author 'b <b@example.invalid>' --compact"
  bash -c "$creset && $bump_clone" > /dev/null 2>&1 || { echo "bench: tag-bump --clone over $via failed" >&2; exit 1; }
  [ "$(git -C "$cdir/srv/flux.git" rev-list --count main)" = 20002 ] || { echo "bench: tag-bump did not push over $via" >&2; exit 1; }
  echo "bench: fresh --clone + edit + commit + push, 20,000 commits, over $via" >&2
  hyperfine --warmup 1 --runs 10 --prepare "$creset" --export-json "$out/bump-clone-$via.json" \
    -n "tag-bump --clone --push" "$bump_clone > /dev/null 2>&1" -n "git clone --depth 1 && sed && git commit && git push" "$(git_clone_push "$gurl")" >&2
done
# flat as history grows: the same fresh run against 100,000 commits over HTTPS
base100=$(git -C "$cdir/srv/flux-100k.git" rev-parse main)
creset100="rm -rf $cdir/wd && git -C $cdir/srv/flux-100k.git update-ref refs/heads/main $base100"
bump_clone100="GITHUB_TOKEN=bench-token $bump --clone https://127.0.0.1:$port/flux-100k.git --workdir $cdir/wd --service papi --tag pr-9999-abcdef0 --push --author 'b <b@example.invalid>' --compact"
bash -c "$creset100 && $bump_clone100" > /dev/null 2>&1 || { echo "bench: tag-bump --clone of 100,000 commits failed" >&2; exit 1; }
# both depths in one hyperfine run, one right after the other: this VM's speed drifts over
# minutes, and a row measured later would show the drift as depth
bump_clone20="GITHUB_TOKEN=bench-token $bump --clone https://127.0.0.1:$port/flux.git --workdir $cdir/wd --service papi --tag pr-9999-abcdef0 --push --author 'b <b@example.invalid>' --compact"
echo "bench: fresh --clone + edit + commit + push, 20,000 and 100,000 commits, over https" >&2
hyperfine --warmup 1 --runs 15 --export-json "$out/bump-clone-depth.json" \
  --prepare "$creset" -n "20,000 commits" "$bump_clone20 > /dev/null 2>&1" \
  --prepare "$creset100" -n "100,000 commits" "$bump_clone100 > /dev/null 2>&1" >&2
bash -c "$creset && $creset100"
kill $server 2>/dev/null || true

# freshness-check: 15,000 commits ahead of the pin, 200 apps, against git rev-list --count
# scoped to one app's directory (the count must agree).
fdir=$PWD/$data/fresh
if [ ! -s "$fdir/commits" ]; then
  echo "bench: generating a repository of 15,000 commits" >&2
  rm -rf "$fdir"; mkdir -p "$fdir"; git -C "$fdir" init -q -b main repo
  python3 - "$fdir/repo" <<'PY'
import subprocess, sys
out = ["commit refs/heads/main\ncommitter b <b@example.invalid> 1700000000 +0000\ndata 4\nseed\n"]
for a in range(200):
    for f in range(5):
        body = f"app {a} file {f}\n" * 10
        out.append(f"M 644 inline apps/app{a}/f{f}.yaml\ndata {len(body)}\n{body}\n")
for i in range(15000):
    body, msg = f"change {i}\n" * 10, f"c{i}"
    out.append(f"commit refs/heads/main\ncommitter b <b@example.invalid> {1700000001 + i} +0000\n"
               f"data {len(msg)}\n{msg}\nM 644 inline apps/app{(i * 7) % 200}/f{i % 5}.yaml\n"
               f"data {len(body)}\n{body}\n")
subprocess.run(["git", "-C", sys.argv[1], "fast-import", "--quiet"], input="".join(out).encode(), check=True)
PY
  git -C "$fdir/repo" repack -adq
  git -C "$fdir/repo" tag pinned "$(git -C "$fdir/repo" rev-list --max-parents=0 main)"
  echo 15000 > "$fdir/commits"
fi
fresh_cmd="$rel/freshness-check --repo $fdir/repo --pinned pinned --head main --path apps/app3 --max-gap 1000d --now 2026-11-21T08:00:00Z --compact"
[ "$($fresh_cmd --jq .commitsAhead)" = "$(git -C "$fdir/repo" rev-list --count pinned..main -- apps/app3)" ] \
  || { echo "bench: freshness-check and git rev-list disagree on the count" >&2; exit 1; }
echo "bench: freshness-check over 15,000 commits, one app's path" >&2
hyperfine -N --warmup 2 --runs 10 --export-json "$out/fresh.json" \
  -n freshness-check "$fresh_cmd" -n "git rev-list --count" "git -C $fdir/repo rev-list --count pinned..main -- apps/app3" >&2

# A fleet matrix: 100 tag-bump --clone --push at once, one service each, one branch, each
# into an empty workdir; every run must land with the default settings and the history stay
# linear (bench/contention.py checks both).
for via in file https; do
  echo "bench: 100 concurrent --clone --push to one branch over $via" >&2
  python3 bench/contention.py "$bump" 100 --remote $via > "$out/contention-$via.json" \
    || { echo "bench: not every concurrent push landed over $via: $(cat "$out/contention-$via.json")" >&2; exit 1; }
done

# prune-plan: 200,000 versions (about 65 MB, gh api --paginate pages of 100) against the
# same rules written as a jq 1.6 filter (bench/prune.jq). Both must delete the same ids.
prune=$rel/prune-plan
listing=$data/versions-200k.json
if [ ! -s "$listing" ]; then
  echo "bench: generating a listing of 200,000 versions" >&2
  python3 bench/gen_ghcr.py --package claude-runtime-review --org glitchwerks --versions 200000 \
    --start 2025-11-21T00:00:00Z --every 157 --per-page 100 --slim \
    --digest 150000=sha256:$R > "$listing"
fi
$pin scan --root examples/pins --compact > "$data/prune-pins.json"
prune_cmd="$prune -i $listing --package claude-runtime-review --match pending-* --protect-tag none --protect-digests $data/prune-pins.json --max-delete 1000000 --now 2026-11-21T08:00:00Z --trace-id bench --compact"
jq_prune="jq -n -c --argjson now 1795248000 --slurpfile pins $data/prune-pins.json -f bench/prune.jq $listing"
a=$($prune_cmd --jq '[.packages[0].delete[].id] | length, (map(tostring) | join(",") | length)' 2>/dev/null | paste -sd' ')
b=$($jq_prune | jq -c '[.delete[].id] | length, (map(tostring) | join(",") | length)' | paste -sd' ')
[ "$a" = "$b" ] || { echo "bench: prune-plan ($a) and jq ($b) disagree on the plan" >&2; exit 1; }
echo "bench: prune-plan over 200,000 versions" >&2
hyperfine -N --warmup 1 --runs 5 --export-json "$out/prune.json" \
  -n prune-plan "$prune_cmd" -n "jq 1.6" "$jq_prune" >&2
printf '{"tool": %s, "jq": %s, "input": %s}\n' "$(peak $prune_cmd)" "$(peak $jq_prune)" \
  "$(stat -c %s "$listing")" > "$out/prune-mem.json"

python3 - "$out" "$records" "$big_gate_mem" "$big_jq_mem" "$small_gate_mem" "$small_jq_mem" "${policy_mem[@]}" <<'PY'
import json, sys, platform, os
out, records, bg, bj, sg, sj, pa1, pj1, pa2, pj2 = sys.argv[1], int(sys.argv[2]), *map(int, sys.argv[3:])
def load(name):
    r = json.load(open(f"{out}/{name}.json"))["results"]
    return {x["command"]: x["median"] for x in r}
big, small = load("big"), load("small")
rows = []
def row(bench, tool, med, mem, base_med, base_mem, target):
    ratio = base_med / med if tool in ("gate-eval", "policy-apply", "digest-pin", "digest-pin scan", "tag-bump", "prune-plan", "freshness-check") else 1.0
    mem_s = f"{mem/1024:.1f} MiB" if mem else "–"
    tool, target = tool.replace("|", "\\|"), target.replace("|", "\\|")
    rows.append(f"| {bench} | {tool} | {med*1000:.1f} ms | {mem_s} | "
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
pm = json.load(open(f"{out}/pin-mem.json"))
def pair(name):
    r = json.load(open(f"{out}/{name}.json"))["results"]
    return r[0]["median"], r[1]["median"]
pw, sw = pair("pin-rewrite")
row("rewrite 600 pins in 20,000 files (240 MB)", "digest-pin", pw, pm["rewrite"], sw, 0,
    f"≥1.5x faster than grep | sed: {'met' if sw / pw >= 1.5 else 'NOT met'} ({sw / pw:.2f}x)")
row("rewrite 600 pins in 20,000 files (240 MB)", "grep -rlZ | xargs sed -i", sw, 0, sw, 0, "baseline")
ps, gs = pair("pin-scan")
row("scan 20,000 files (240 MB)", "digest-pin scan", ps, pm["scan"], gs, 0,
    f"≥1.5x faster than grep -rEc: {'met' if gs / ps >= 1.5 else 'NOT met'} ({gs / ps:.2f}x)")
row("scan 20,000 files (240 MB)", "grep -rEc", gs, 0, gs, 0, "baseline")
be = {x["command"]: x["median"] for x in json.load(open(f"{out}/bump-edit.json"))["results"]}
bm = json.load(open(f"{out}/bump-mem.json"))
tb, yq, sd = be["tag-bump"], be["yq -y -i"], be["sed -i"]
row("one tag in a kustomization of 5,000 images", "tag-bump", tb, bm["edit"], yq, 0,
    f"≥20x faster than yq: {'met' if yq / tb >= 20 else 'NOT met'} ({yq / tb:.1f}x); "
    f"within 3x of sed: {'met' if tb <= 3 * sd else 'NOT met'} ({tb / sd:.2f}x sed)")
row("one tag in a kustomization of 5,000 images", "yq -y -i (Debian, python)", yq, 0, yq, 0, "baseline")
row("one tag in a kustomization of 5,000 images", "sed -i", sd, 0, sd, 0, "baseline")
bp = {x["command"]: x["median"] for x in json.load(open(f"{out}/bump-push.json"))["results"]}
tp, gp = bp["tag-bump --push"], bp["sed && git add && git commit && git push"]
row("edit + commit + push, local bare remote", "tag-bump", tp, 0, gp, 0,
    f"≤1.2x git CLI: {'met' if tp / gp <= 1.2 else 'NOT met'} ({tp / gp:.2f}x git)")
row("edit + commit + push, local bare remote", "sed && git add && git commit && git push", gp, 0, gp, 0, "baseline")
for via in ("https", "file"):
    bc = {x["command"]: x["median"] for x in json.load(open(f"{out}/bump-clone-{via}.json"))["results"]}
    tc, gc = bc["tag-bump --clone --push"], bc["git clone --depth 1 && sed && git commit && git push"]
    bench = f"fresh clone + edit + commit + push, 20,000 commits, {'loopback HTTPS' if via == 'https' else 'file://'}"
    row(bench, "tag-bump", tc, 0, gc, 0, f"≤1.2x git: {'met' if tc <= 1.2 * gc else 'NOT met'} ({tc / gc:.2f}x git)")
    row(bench, "git clone --depth 1 && sed && git commit && git push", gc, 0, gc, 0, "baseline")
depth = {x["command"]: x["median"] for x in json.load(open(f"{out}/bump-clone-depth.json"))["results"]}
deep, shallow = depth["100,000 commits"], depth["20,000 commits"]
row("fresh clone + edit + commit + push, 100,000 commits, loopback HTTPS", "tag-bump", deep, 0, shallow, 0,
    f"flat as history grows, ≤1.2x the 20,000-commit run: {'met' if deep <= 1.2 * shallow else 'NOT met'} ({deep / shallow:.2f}x)")
fr = {x["command"]: x["median"] for x in json.load(open(f"{out}/fresh.json"))["results"]}
ft, fg = fr["freshness-check"], fr["git rev-list --count"]
row("15,000 commits ahead, one app's path", "freshness-check", ft, 0, fg, 0,
    f"within 2x of git rev-list: {'met' if ft <= 2 * fg else 'NOT met'} ({ft / fg:.2f}x git)")
row("15,000 commits ahead, one app's path", "git rev-list --count PIN..HEAD -- PATH", fg, 0, fg, 0, "baseline")
for via in ("file", "https"):
    c = json.load(open(f"{out}/contention-{via}.json"))
    ok = c["landed"] == c["runs"] and c["linear"] and c["seconds"] < 30
    rows.append(f"| {c['runs']} concurrent --clone --push to one branch, "
                f"{'file://' if via == 'file' else 'loopback HTTPS'} | tag-bump (defaults) | "
                f"{c['seconds'] * 1000:.0f} ms (all runs) | – | – | all land, linear, <30 s: "
                f"{'met' if ok else 'NOT met'} ({c['landed']} landed, at most {c['maxAttempts']} attempts) |")
pr = {x["command"]: x["median"] for x in json.load(open(f"{out}/prune.json"))["results"]}
prm = json.load(open(f"{out}/prune-mem.json"))
pt, pj = pr["prune-plan"], pr["jq 1.6"]
mem_ratio = prm["tool"] * 1024 / prm["input"]
bench = f"plan over 200,000 versions ({prm['input'] / 2**20:.0f} MiB)"
row(bench, "prune-plan", pt, prm["tool"], pj, prm["jq"],
    f"≥10x faster than jq 1.6: {'met' if pj / pt >= 10 else 'NOT met'} ({pj / pt:.1f}x); "
    f"peak ≤ the input's size: {'met' if mem_ratio <= 1 else 'NOT met'} ({mem_ratio:.2f}x)")
row(bench, "jq 1.6 (bench/prune.jq)", pj, prm["jq"], pj, prm["jq"], "baseline")
report = ["# rollout-tools benchmarks", "",
          f"Machine: {os.cpu_count()} cores, {platform.machine()}; medians from hyperfine, "
          "peak memory (max RSS) from GNU time. Ratio = baseline median / tool median.", "",
          "| benchmark | tool | median | peak memory | ratio | target |",
          "|---|---|---|---|---|---|", *rows, ""]
open(f"{out}/report.md", "w").write("\n".join(report))
print("\n".join(report))
PY
