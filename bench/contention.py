#!/usr/bin/env python3
"""N tag-bump --clone --push at once, one service each, all to one branch of one remote:
the fleet matrix case. Prints one JSON line: how long until every run ended, how many
landed, the most push attempts one run needed, and whether the history stayed linear.

usage: contention.py TAG_BUMP N [--remote file|https] [--push-timeout D]

The repository holds N services (apps/svc-I/kustomization.yaml, one services map); every
run clones into its own empty workdir, as on a fresh CI runner. With --remote https the
loopback HTTPS git server of the test suite serves it (tests/support/git_https_server.py).
"""
import argparse
import json
import os
import shutil
import subprocess
import sys
import tempfile
import time

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(HERE)


def git(*args, cwd):
    return subprocess.run(["git", *args], cwd=cwd, check=True, capture_output=True,
                          text=True).stdout


def fleet(d, n):
    seed = os.path.join(d, "seed")
    groups, services = {}, {}
    for i in range(n):
        app = os.path.join(seed, "apps", f"svc-{i}")
        os.makedirs(app)
        with open(os.path.join(app, "kustomization.yaml"), "w") as f:
            f.write("kind: Kustomization\nresources:\n  - deployment.yaml\nimages:\n"
                    f"  - name: svc-{i}\n    newName: ghcr.io/acme/svc-{i}\n    newTag: v1\n")
        groups[f"svc-{i}"] = {"file": f"apps/svc-{i}/kustomization.yaml",
                              "imageName": f"svc-{i}", "type": "kustomize-images"}
        services[f"svc-{i}"] = {"imageGroup": f"svc-{i}"}
    with open(os.path.join(seed, "services.json"), "w") as f:
        json.dump({"services": services, "imageGroups": groups}, f, indent=1)
    git("init", "-q", "-b", "main", cwd=seed)
    git("add", "-A", cwd=seed)
    git("-c", "user.name=seed", "-c", "user.email=seed@example.com", "commit", "-qm", "fleet",
        cwd=seed)
    bare = os.path.join(d, "fleet.git")
    git("clone", "-q", "--bare", seed, bare, cwd=d)
    return bare


def https_server(d, bare):
    state = os.path.join(d, "server")
    os.makedirs(state)
    root = os.path.dirname(bare)
    proc = subprocess.Popen([sys.executable, os.path.join(ROOT, "tests/support/git_https_server.py"),
                             "--root", root, "--state", state],
                            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    port_file = os.path.join(state, "port")
    deadline = time.monotonic() + 30
    while not os.path.exists(port_file):
        if time.monotonic() > deadline:
            raise SystemExit("contention: the HTTPS server did not start")
        time.sleep(0.05)
    port = open(port_file).read().strip()
    env = {"SSL_CERT_FILE": os.path.join(state, "cert.pem")}
    return proc, f"https://127.0.0.1:{port}/{os.path.basename(bare)}", env


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("tag_bump")
    ap.add_argument("n", type=int)
    ap.add_argument("--remote", choices=["file", "https"], default="file")
    ap.add_argument("--push-timeout", default=None)
    args = ap.parse_args()
    args.tag_bump = os.path.abspath(args.tag_bump)
    d = tempfile.mkdtemp(prefix="contention-")
    server = None
    try:
        bare = fleet(d, args.n)
        env = dict(os.environ, GIT_AUTHOR_NAME="bench", GIT_AUTHOR_EMAIL="bench@example.com")
        remote = "file://" + bare
        if args.remote == "https":
            server, remote, extra = https_server(d, bare)
            env.update(extra)
        argvs = []
        for i in range(args.n):
            a = [args.tag_bump, "--clone", remote, "--workdir", os.path.join(d, f"w{i}"),
                 "--service", f"svc-{i}", "--tag", "v2", "--push", "--compact"]
            if args.push_timeout:
                a += ["--push-timeout", args.push_timeout]
            argvs.append(a)
        start = time.monotonic()
        procs = [subprocess.Popen(a, cwd=d, env=env, stdout=subprocess.PIPE,
                                  stderr=subprocess.PIPE, text=True) for a in argvs]
        attempts, failed = [], []
        for p in procs:
            out, err = p.communicate()
            if p.returncode == 0:
                attempts.append(json.loads(out)["push"]["attempts"])
            else:
                failed.append(err.strip().splitlines()[-1] if err.strip() else str(p.returncode))
        seconds = time.monotonic() - start
        log = git("log", "--format=%H %P", "main", cwd=bare).splitlines()
        linear = all(len(line.split()) <= 2 for line in log)
        commits = len(log) - 1
        print(json.dumps({"runs": args.n, "remote": args.remote, "seconds": round(seconds, 2),
                          "landed": len(attempts), "commits": commits, "linear": linear,
                          "maxAttempts": max(attempts) if attempts else 0,
                          "totalAttempts": sum(attempts),
                          "failed": failed[:3]}))
        return 0 if not failed and commits == args.n and linear else 1
    finally:
        if server:
            server.terminate()
            server.wait()
        shutil.rmtree(d, ignore_errors=True)


if __name__ == "__main__":
    sys.exit(main())
