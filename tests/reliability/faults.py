#!/usr/bin/env python3
"""Faults and races against the mutating tools, with figures.

    faults.py [--quick] [--seed N] [--json FILE]

kill -9 at a random moment during policy-apply, digest-pin --record and tag-bump --push,
hundreds of times (--quick: a few dozen), then checks what a user would rely on: every
file still parses, the audit chain verifies, the ledger reads, the git repositories are
sound, and a retry with the same idempotency key / release / tag converges to exactly one
mutation. Then races: N parallel policy-apply on one registry, N parallel digest-pin
--record on one ledger, N tag-bumps racing into one remote: nothing lost, nothing twice.

Needs the debug binaries (target/debug, or $ROLLOUT_BIN), git and python3. Prints one line
per experiment and a summary; --json writes the figures for docs/RELIABILITY.md. Exit 1 at
the first broken invariant, with what broke.
"""
import argparse
import json
import os
import random
import shutil
import subprocess
import sys
import tempfile
import time

ROOT = os.path.abspath(os.path.join(os.path.dirname(__file__), "..", ".."))
BIN = os.environ.get("ROLLOUT_BIN", os.path.join(ROOT, "target", "debug"))
NOW = "2026-11-21T08:00:00Z"
GOV = ["--actor", "chaos", "--approval-ref", "CHG-1", "--rationale", "fault injection",
       "--review-by", "2026-12-01T00:00:00Z"]
# a canary in every credential variable: no commit, file or output may ever hold it
CANARY = "canary-faults-7c1e-s3cret"
ENV = dict(os.environ, ROLLOUT_NOW=NOW, ROLLOUT_TRACE_ID="faults",
           GIT_TOKEN=CANARY, GITHUB_TOKEN=CANARY, GH_TOKEN=CANARY,
           GIT_CONFIG_NOSYSTEM="1", GIT_AUTHOR_NAME="t", GIT_AUTHOR_EMAIL="t@example.invalid",
           GIT_COMMITTER_NAME="t", GIT_COMMITTER_EMAIL="t@example.invalid")
for var in ("GITHUB_ACTIONS", "GITHUB_STEP_SUMMARY", "ROLLOUT_JSON_ERRORS"):
    ENV.pop(var, None)
DIGESTS = {
    "A": ["sha256:" + c * 64 for c in "abc"],
    "B": ["sha256:" + c * 64 for c in "def"],
}
IMAGES = ["claude-runtime-review", "claude-runtime-fix", "claude-runtime-explain"]


class Broken(Exception):
    pass


def tool(name, *args, cwd, check=True):
    r = subprocess.run([os.path.join(BIN, name), *args], cwd=cwd, env=ENV,
                       capture_output=True, text=True)
    if check and r.returncode != 0:
        raise Broken(f"{name} {' '.join(args)} exited {r.returncode}: {r.stderr.strip()}")
    return r


def git(*args, cwd):
    r = subprocess.run(["git", *args], cwd=cwd, env=ENV, capture_output=True, text=True)
    if r.returncode != 0:
        raise Broken(f"git {' '.join(args)}: {r.stderr.strip()}")
    return r.stdout


def median_runtime(make_argv, cwd, n=5):
    """How long an unkilled run takes: kills are spread over [0, 1.2 x this]."""
    times = []
    for i in range(n):
        start = time.monotonic()
        subprocess.run(make_argv(i), cwd=cwd, env=ENV, capture_output=True)
        times.append(time.monotonic() - start)
    return sorted(times)[n // 2] * 1.2


def killed_run(argv, cwd, rng, max_delay):
    """Start argv, kill -9 it after a random delay; True when it was still running."""
    p = subprocess.Popen(argv, cwd=cwd, env=ENV, stdout=subprocess.DEVNULL,
                         stderr=subprocess.DEVNULL)
    time.sleep(rng.uniform(0, max_delay))
    alive = p.poll() is None
    if alive:
        p.kill()
    p.wait()
    return alive


def registry(d, percent=0):
    doc = {"schemaVersion": "v1", "fleetId": "chaos",
           "policy": {"mode": "guarded_auto", "autonomous": {
               "enabled": True, "rollout": {"canaryPercent": percent},
               "governance": {"actor": "a", "approvalRef": "b", "rationale": "c",
                              "changedAt": "2026-11-01T00:00:00Z",
                              "reviewBy": "2026-12-01T00:00:00Z"}}}}
    with open(os.path.join(d, "registry.json"), "w") as f:
        json.dump(doc, f, indent=2)
    with open(os.path.join(d, "decision.json"), "w") as f:
        json.dump({"schemaVersion": "v1", "kind": "gate-decision",
                   "generatedAt": "2026-11-21T07:59:00Z", "validUntil": "2026-11-21T09:00:00Z",
                   "traceId": "faults", "subject": None,
                   "summary": {"decision": "promote", "reasonCodes": []}}, f)


def expand_args(key, lock="60s"):
    return [os.path.join(BIN, "policy-apply"), "--registry", "registry.json", "--intent",
            "expand", "--step", "1", "-i", "decision.json", "--idempotency-key", key,
            "--lock-timeout", lock, "--compact", *GOV]


def policy_state(d, expect_records):
    with open(os.path.join(d, "registry.json")) as f:
        percent = json.load(f)["policy"]["autonomous"]["rollout"]["canaryPercent"]
    if not os.path.exists(os.path.join(d, "registry.json.audit.jsonl")):
        v = {"ok": percent == 0, "records": 0}  # killed before the first record
    else:
        r = tool("policy-apply", "verify", "--audit-log", "registry.json.audit.jsonl",
                 "--compact", cwd=d, check=False)
        v = json.loads(r.stdout or "{}") or {"error": r.stderr.strip()}
    if not v.get("ok"):
        raise Broken(f"the audit chain does not verify: {v}")
    if expect_records is not None and v.get("records") != expect_records:
        raise Broken(f"{v.get('records')} audit records, expected {expect_records}")
    return percent


def kill_policy_apply(runs, rng):
    landed = 0
    base = tempfile.mkdtemp(prefix="faults-policy-")
    try:
        cal = os.path.join(base, "calibrate")
        os.makedirs(cal)
        registry(cal)
        max_delay = median_runtime(lambda i: expand_args(f"c{i}"), cal)
        for block in range(0, runs, 100):
            d = os.path.join(base, str(block))
            os.makedirs(d)
            registry(d)
            for i in range(1, min(100, runs - block) + 1):
                key = f"k{i}"
                landed += killed_run(expand_args(key), d, rng, max_delay)
                # whatever the kill interrupted: the registry parses and the chain verifies
                before = policy_state(d, None)
                if before not in (i - 1, i):
                    raise Broken(f"run {i}: canaryPercent {before} after a kill")
                r = subprocess.run(expand_args(key), cwd=d, env=ENV, capture_output=True, text=True)
                if r.returncode != 0:
                    raise Broken(f"run {i}: the retry failed: {r.stderr.strip()}")
                if policy_state(d, i) != i:
                    raise Broken(f"run {i}: the retry did not converge to one mutation")
    finally:
        shutil.rmtree(base, ignore_errors=True)
    return landed


def pin_args(release, which):
    args = [os.path.join(BIN, "digest-pin"), "--root", "pins", "--record", "--ledger",
            "digests.jsonl", "--release", release, "--expect", "9", "--compact"]
    for image, digest in zip(IMAGES, DIGESTS[which]):
        args += ["--set", f"{image}={digest}"]
    return args


def kill_digest_pin(runs, rng):
    landed = 0
    d = tempfile.mkdtemp(prefix="faults-pin-")
    try:
        shutil.copytree(os.path.join(ROOT, "examples", "pins"), os.path.join(d, "pins"))
        max_delay = median_runtime(lambda i: pin_args(f"c{i}", "AB"[i % 2]), d)
        os.remove(os.path.join(d, "digests.jsonl"))
        for i in range(1, runs + 1):
            which = "AB"[i % 2]
            release = f"r{i}"
            landed += killed_run(pin_args(release, which), d, rng, max_delay)
            tool("digest-pin", "scan", "--root", "pins", "--compact", cwd=d)  # every file parses
            if os.path.exists(os.path.join(d, "digests.jsonl")):  # a kill may precede it
                tool("digest-pin", "ledger", "--ledger", "digests.jsonl", "--compact", cwd=d)
            r = subprocess.run(pin_args(release, which), cwd=d, env=ENV, capture_output=True, text=True)
            if r.returncode != 0:
                raise Broken(f"run {i}: the retry failed: {r.stderr.strip()}")
            check = [os.path.join(BIN, "digest-pin"), "--root", "pins", "--check", "--compact"]
            for image, digest in zip(IMAGES, DIGESTS[which]):
                check += ["--set", f"{image}={digest}"]
            if subprocess.run(check, cwd=d, env=ENV, capture_output=True).returncode != 0:
                raise Broken(f"run {i}: the tree does not hold release {release} after the retry")
            records = json.loads(tool("digest-pin", "ledger", "--ledger", "digests.jsonl",
                                      "--compact", cwd=d).stdout)["records"]
            releases = [r["release"] for r in records]
            if releases.count(release) != 1:
                raise Broken(f"run {i}: release {release} recorded {releases.count(release)} times")
    finally:
        shutil.rmtree(d, ignore_errors=True)
    return landed


def flux_remote(d):
    seed = os.path.join(d, "seed")
    shutil.copytree(os.path.join(ROOT, "examples", "flux"), seed)
    git("init", "-q", "-b", "main", cwd=seed)
    git("add", "-A", cwd=seed)
    git("commit", "-qm", "flux as deployed", cwd=seed)
    git("clone", "-q", "--bare", seed, os.path.join(d, "flux.git"), cwd=d)
    return "file://" + os.path.join(d, "flux.git")


def bump_args(remote, workdir, service, tag):
    """A tag-bump push with the default retry bound (--push-timeout 1m)."""
    return [os.path.join(BIN, "tag-bump"), "--clone", remote, "--workdir", workdir,
            "--service", service, "--tag", tag, "--sync", "--push",
            "--lock-timeout", "60s", "--compact"]


def kill_tag_bump(runs, rng):
    landed = 0
    d = tempfile.mkdtemp(prefix="faults-bump-")
    try:
        remote = flux_remote(d)
        work = os.path.join(d, "work")
        max_delay = median_runtime(lambda i: bump_args(remote, work, "api", f"c{i}"), d)
        for i in range(1, runs + 1):
            tag = f"v{i}"
            landed += killed_run(bump_args(remote, work, "web", tag), d, rng, max_delay)
            git("fsck", "--no-progress", cwd=os.path.join(d, "flux.git"))
            r = subprocess.run(bump_args(remote, work, "web", tag), cwd=d, env=ENV,
                               capture_output=True, text=True)
            if r.returncode != 0:
                raise Broken(f"run {i}: the retry failed: {r.stderr.strip()}")
            log = git("log", "--format=%s", "main", cwd=os.path.join(d, "flux.git")).splitlines()
            n = sum(1 for s in log if s.endswith(f"update image tag to {tag}"))
            if n != 1:
                raise Broken(f"run {i}: {n} commits set {tag} on the remote")
            shown = git("show", "main:apps/web/kustomization.yaml", cwd=os.path.join(d, "flux.git"))
            if f"newTag: '{tag}'" not in shown and f"newTag: {tag}" not in shown:
                raise Broken(f"run {i}: the remote does not hold {tag}")
    finally:
        shutil.rmtree(d, ignore_errors=True)
    return landed


def spawn_all(argvs, cwd):
    procs = [subprocess.Popen(a, cwd=cwd, env=ENV, stdout=subprocess.DEVNULL,
                              stderr=subprocess.PIPE, text=True) for a in argvs]
    failed = []
    for p in procs:
        _, err = p.communicate()
        if p.returncode != 0:
            failed.append(err.strip())
    if failed:
        raise Broken(f"{len(failed)} of {len(procs)} parallel runs failed: {failed[0]}")


def parallel_policy_apply(n):
    d = tempfile.mkdtemp(prefix="race-policy-")
    try:
        registry(d)
        spawn_all([expand_args(f"k{i}", "120s") for i in range(n)], d)
        if policy_state(d, n) != n:
            raise Broken("parallel expands lost or doubled a mutation")
        spawn_all([expand_args(f"k{i}", "120s") for i in range(n)], d)  # all replays
        if policy_state(d, n) != n:
            raise Broken("parallel replays mutated the registry")
    finally:
        shutil.rmtree(d, ignore_errors=True)


def parallel_digest_pin(n):
    d = tempfile.mkdtemp(prefix="race-pin-")
    try:
        shutil.copytree(os.path.join(ROOT, "examples", "pins"), os.path.join(d, "pins"))
        spawn_all([pin_args(f"r{i}", "AB"[i % 2]) + ["--lock-timeout", "120s"] for i in range(n)], d)
        records = json.loads(tool("digest-pin", "ledger", "--ledger", "digests.jsonl",
                                  "--compact", cwd=d).stdout)["records"]
        if sorted(r["release"] for r in records) != sorted(f"r{i}" for i in range(n)):
            raise Broken("parallel --record lost or doubled a ledger record")
        if sorted(r["seq"] for r in records) != list(range(1, n + 1)):
            raise Broken("ledger sequence numbers are not 1..N")
        tool("digest-pin", "scan", "--root", "pins", "--compact", cwd=d)
    finally:
        shutil.rmtree(d, ignore_errors=True)


def racing_tag_bumps(n):
    d = tempfile.mkdtemp(prefix="race-bump-")
    try:
        remote = flux_remote(d)
        services = ["papi", "web", "api", "app"]
        # default settings: every racer lands within --push-timeout's minute
        spawn_all([bump_args(remote, os.path.join(d, f"w{i}"), services[i % 4], f"race-{i}")
                   for i in range(n)], d)
        bare = os.path.join(d, "flux.git")
        log = git("log", "--format=%s", "main", cwd=bare).splitlines()
        for i in range(n):
            landed = sum(1 for s in log if s.endswith(f"update image tag to race-{i}"))
            if landed != 1:
                raise Broken(f"race-{i} landed {landed} times")
        if git("log", "--merges", "--format=%H", "main", cwd=bare).strip():
            raise Broken("a merge commit on main: the history is not linear")
        if CANARY in git("log", "--format=%an %ae %B", "main", cwd=bare):
            raise Broken("the canary token is in a commit")
    finally:
        shutil.rmtree(d, ignore_errors=True)


def limits(gib, with_prune):
    """A GiB (or more) of input to every reader: refused at its documented bound, with
    bounded memory. Returns the largest peak RSS of one run, in MiB. prune-plan streams its
    listing up to 512 MiB before refusing, which the unoptimised test build parses slowly:
    --quick leaves it out."""
    import threading
    d = tempfile.mkdtemp(prefix="limits-")
    size = gib << 30
    try:
        big = os.path.join(d, "big.json")
        with open(big, "wb") as f:  # sparse: no disk is used
            f.truncate(size)
        os.makedirs(os.path.join(d, "repo"))
        git("init", "-q", "-b", "main", cwd=os.path.join(d, "repo"))
        git("commit", "-q", "--allow-empty", "-m", "c", cwd=os.path.join(d, "repo"))
        shutil.copy(big, os.path.join(d, "repo", "services.json"))
        cases = [
            ("gate-eval", ["--preset", "runtime-health", "-i", "-"], True),
            ("policy-apply", ["--registry", "big.json", "--intent", "pause", *GOV], False),
            ("digest-pin", ["--root", ".", "-i", "-"], True),
            *([("prune-plan", ["--match", "x", "-i", "-"], True)] if with_prune else []),
            ("health-probe", ["--validate-only", "-i", "-"], True),
            ("freshness-check", ["--repo", "repo", "--pinned", "HEAD", "--paths-from", "big.json",
                                 "--paths-query", "."], False),
            ("tag-bump", ["--repo", "repo", "--service", "x", "--tag", "v1"], False),
        ]
        peak = 0
        for name, args, stdin in cases:
            p = subprocess.Popen([os.path.join(BIN, name), *args, "--json-errors", "--compact"],
                                 cwd=d, env=ENV, stdin=subprocess.PIPE if stdin else subprocess.DEVNULL,
                                 stdout=subprocess.PIPE, stderr=subprocess.PIPE)
            def feed():
                # one JSON string that never ends: a reader must stop at its bound
                chunk = b"x" * (1 << 20)
                try:
                    p.stdin.write(b'{"a": "')
                    for _ in range(size >> 20):
                        p.stdin.write(chunk)
                except (BrokenPipeError, OSError):
                    pass
                finally:
                    try:
                        p.stdin.close()
                    except OSError:
                        pass
            t = threading.Thread(target=feed) if stdin else None
            if t:
                t.start()
            out, err = p.stdout.read(), p.stderr.read()
            _, status, usage = os.wait4(p.pid, 0)
            p.returncode = os.waitstatus_to_exitcode(status)
            if t:
                t.join()
            rss = usage.ru_maxrss // 1024
            peak = max(peak, rss)
            doc = json.loads(out.decode().strip().splitlines()[-1]) if out.strip() else {}
            if p.returncode != 2 or doc.get("reasonCode") != "input_too_large":
                raise Broken(f"{name}: exit {p.returncode}, {doc.get('reasonCode')}: {err.decode()[:300]}")
            if rss > 600:
                raise Broken(f"{name}: peak RSS {rss} MiB for a {gib} GiB input")
        return peak
    finally:
        shutil.rmtree(d, ignore_errors=True)


def snapshot_tree(root):
    out = {}
    for base, dirs, files in os.walk(root):
        dirs[:] = [x for x in dirs if x != ".git"]
        for f in files:
            if f.endswith(".lock"):
                continue  # lock files stay by design (CONTRACT: FILE.lock); they hold no data
            p = os.path.join(base, f)
            with open(p, "rb") as fh:
                out[os.path.relpath(p, root)] = fh.read()
    return out


def storage_inner():
    """Runs inside `unshare -rm`: a 512 KiB tmpfs, filled, then read-only."""
    d = tempfile.mkdtemp(prefix="storage-")
    fs = os.path.join(d, "fs")
    os.makedirs(fs)
    subprocess.run(["mount", "-t", "tmpfs", "-o", "size=512k", "none", fs], check=True)
    results = []
    try:
        registry(fs)
        shutil.copytree(os.path.join(ROOT, "examples", "pins"), os.path.join(fs, "pins"))
        pin = pin_args("r1", "A")
        pin[pin.index("digests.jsonl")] = os.path.join(fs, "digests.jsonl")
        pin[pin.index("pins")] = os.path.join(fs, "pins")
        runs = {
            "policy-apply": ([os.path.join(BIN, "policy-apply"), "--registry",
                              os.path.join(fs, "registry.json"), "--intent", "expand", "--step",
                              "1", "-i", os.path.join(fs, "decision.json"),
                              "--idempotency-key", "k1", "--compact", *GOV], fs),
            "digest-pin": (pin, fs),
            "gate-eval": ([os.path.join(BIN, "gate-eval"), "--preset", "runtime-health", "-i",
                           os.path.join(ROOT, "examples", "demo", "health.json"),
                           "--state-file", os.path.join(fs, "state", "decision.json")], fs),
        }
        os.makedirs(os.path.join(fs, "state"))
        for condition in ("disk full", "read-only"):
            if condition == "disk full":
                fd = os.open(os.path.join(fs, "filler"), os.O_WRONLY | os.O_CREAT)
                try:
                    while True:
                        os.write(fd, b"\0" * 1024)
                except OSError:
                    pass
                finally:
                    os.close(fd)
            else:
                os.remove(os.path.join(fs, "filler"))
                subprocess.run(["mount", "-o", "remount,ro", fs], check=True)
            for name, (argv, cwd) in runs.items():
                before = snapshot_tree(fs)
                r = subprocess.run(argv, cwd=cwd, env=ENV, capture_output=True, text=True)
                after = snapshot_tree(fs)
                err = r.stderr.strip().splitlines()
                ok = (r.returncode == 5 and before == after and err
                      and err[0].startswith(f"{name}: error: "))
                changed = sorted(k for k in set(before) | set(after) if before.get(k) != after.get(k))
                results.append({"tool": name, "condition": condition, "exit": r.returncode,
                                "unchanged": before == after, "changed": changed,
                                "error": err[0] if err else "",
                                "ok": bool(ok)})
        # room again: the same request goes through once
        subprocess.run(["mount", "-o", "remount,rw", fs], check=True)
        argv, cwd = runs["policy-apply"]
        r = subprocess.run(argv, cwd=cwd, env=ENV, capture_output=True, text=True)
        results.append({"tool": "policy-apply", "condition": "space again", "exit": r.returncode,
                        "unchanged": None, "error": r.stderr.strip()[:200], "ok": r.returncode == 0})
    finally:
        subprocess.run(["umount", fs])
        shutil.rmtree(d, ignore_errors=True)
    print(json.dumps(results))


def storage():
    """Disk full and read-only: every writer fails with exit 5, one error line, and
    leaves every file as it was. Needs a mount namespace (unshare -rm) for the small
    filesystem; returns None when the machine does not allow one."""
    if shutil.which("unshare") is None or shutil.which("mount") is None:
        return None
    r = subprocess.run(["unshare", "-rm", sys.executable, os.path.abspath(__file__), "--storage-inner"],
                       capture_output=True, text=True)
    # unshare itself refused (no user namespaces here): the experiment could not run
    if r.returncode != 0 and r.stderr.startswith("unshare:"):
        return None
    if r.returncode != 0:
        raise Broken(f"the storage experiment failed: {r.stderr.strip()[:500]}")
    results = json.loads(r.stdout.strip().splitlines()[-1])
    bad = [x for x in results if not x["ok"]]
    if bad:
        raise Broken(f"{bad[0]['tool']} under {bad[0]['condition']}: exit {bad[0]['exit']}, "
                     f"files changed: {bad[0].get('changed')}, stderr: {bad[0]['error']}")
    return len(results)


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--quick", action="store_true")
    ap.add_argument("--seed", type=int, default=20261121)
    ap.add_argument("--json")
    ap.add_argument("--storage-inner", action="store_true", help=argparse.SUPPRESS)
    args = ap.parse_args()
    if args.storage_inner:
        storage_inner()
        return 0
    rng = random.Random(args.seed)
    scale = {"policy": 30, "pin": 30, "bump": 12, "p_policy": 20, "p_pin": 10, "p_bump": 12} \
        if args.quick else \
        {"policy": 300, "pin": 300, "bump": 100, "p_policy": 100, "p_pin": 50, "p_bump": 100}
    figures = {"seed": args.seed, "quick": args.quick}
    steps = [
        ("kill -9 policy-apply", lambda: kill_policy_apply(scale["policy"], rng), scale["policy"]),
        ("kill -9 digest-pin --record", lambda: kill_digest_pin(scale["pin"], rng), scale["pin"]),
        ("kill -9 tag-bump --push", lambda: kill_tag_bump(scale["bump"], rng), scale["bump"]),
        ("parallel policy-apply", lambda: parallel_policy_apply(scale["p_policy"]), scale["p_policy"]),
        ("parallel digest-pin --record", lambda: parallel_digest_pin(scale["p_pin"]), scale["p_pin"]),
        ("racing tag-bump --push", lambda: racing_tag_bumps(scale["p_bump"]), scale["p_bump"]),
        ("1 GiB inputs", lambda: limits(1, not args.quick), 6 if args.quick else 7),
        ("disk full and read-only", storage, 7),
    ]
    for name, run, n in steps:
        start = time.monotonic()
        try:
            landed = run()
        except Broken as e:
            print(f"faults: {name}: BROKEN: {e}", file=sys.stderr)
            return 1
        secs = time.monotonic() - start
        entry = {"runs": n, "seconds": round(secs, 1)}
        if name == "1 GiB inputs":
            entry["peakRssMiB"] = landed
            extra = f", peak RSS {landed} MiB"
        elif name == "disk full and read-only":
            entry["skipped"] = landed is None
            extra = " (skipped: no mount namespace here)" if landed is None else ""
        else:
            if landed is not None:
                entry["killedWhileRunning"] = landed
            extra = f", {landed} killed mid-run" if landed is not None else ""
        figures[name] = entry
        print(f"faults: {name}: {n} runs{extra}, every invariant held ({secs:.1f}s)")
    if args.json:
        with open(args.json, "w") as f:
            json.dump(figures, f, indent=2)
    return 0


if __name__ == "__main__":
    sys.exit(main())
