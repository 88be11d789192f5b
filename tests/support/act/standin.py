#!/usr/bin/env python3
"""Stand-ins for the GitHub actions a rehearsal under act cannot reach.

    standin.py checkout         actions/checkout (inputs from IN_* variables)
    standin.py upload-artifact  actions/upload-artifact
    standin.py cache-restore    actions/cache/restore
    standin.py cache-save       actions/cache/save

All append one JSON line per call to $STANDIN_LOG, so a test asserts on what the workflow
asked for, never on act's console.

checkout behaves as the real action does where a workflow can tell: it clones
https://github.com/OWNER/NAME (the test's HOME rewrites that URL to a loopback bare remote
with `url.insteadOf`), checks out the event's commit on a branch named after the event's
ref when the repository is the workflow's own and no ref is given, honours `ref`, `path`
(refused outside the workspace), `fetch-depth` (1 is shallow, 0 the whole history),
`persist-credentials` (when false, a push from the clone fails, as it does on GitHub
without a token), and empties the target directory first.

upload-artifact copies the files of its `path` lines (globs, `!` exclusions) into
$STANDIN_ARTIFACTS/NAME keeping their paths relative to the deepest directory that holds
every search path (as the real action roots an artifact), and honours
`if-no-files-found` (warn, error, ignore). When $STANDIN_AFTER_UPLOAD names a script it is
run afterwards: the seam through which a test makes something happen between two steps of
a job (a commit pushed by someone else).

cache-restore and cache-save keep one directory per key under $STANDIN_CACHE: save copies
`path` there (a key already saved is kept, as the real cache never overwrites one), restore
copies it back and sets the output `cache-hit` to true on an exact key, false otherwise.
"""
import glob
import json
import os
import shutil
import subprocess
import sys


def log(entry):
    with open(os.environ["STANDIN_LOG"], "a") as f:
        f.write(json.dumps(entry, sort_keys=True) + "\n")


def git(*args, cwd=None):
    subprocess.run(["git", *args], cwd=cwd, check=True, stdout=subprocess.DEVNULL)


def checkout():
    workspace = os.path.realpath(os.environ["GITHUB_WORKSPACE"])
    repository = os.environ.get("IN_REPOSITORY") or os.environ["GITHUB_REPOSITORY"]
    ref = os.environ.get("IN_REF", "")
    path = os.environ.get("IN_PATH") or "."
    depth = int(os.environ.get("IN_FETCH_DEPTH") or "1")
    persist = os.environ.get("IN_PERSIST_CREDENTIALS", "true") != "false"
    dest = os.path.realpath(os.path.join(workspace, path))
    if dest != workspace and not dest.startswith(workspace + os.sep):
        print(f"::error::Repository path '{dest}' is not under '{workspace}'", file=sys.stderr)
        return 1
    own = repository == os.environ["GITHUB_REPOSITORY"]
    if not ref and own:
        ref, sha = os.environ.get("GITHUB_REF_NAME", "main"), os.environ["GITHUB_SHA"]
    else:
        sha = None
    if ref.startswith("refs/heads/"):
        ref = ref[len("refs/heads/"):]
    url = f"https://github.com/{repository}"
    os.makedirs(dest, exist_ok=True)
    for name in os.listdir(dest):
        p = os.path.join(dest, name)
        shutil.rmtree(p) if os.path.isdir(p) and not os.path.islink(p) else os.remove(p)
    # like the real action: a shallow fetch takes no tags, the whole history takes them all
    args = ["clone", "--quiet"]
    if depth > 0:
        args += ["--depth", str(depth), "--no-tags"]
    if ref and not is_sha(ref):
        args += ["--branch", ref]
    git(*args, url, dest)
    # origin is the GitHub URL, as the real action leaves it (git clone records the URL an
    # insteadOf rewrite made of it)
    git("remote", "set-url", "origin", url, cwd=dest)
    target = sha or (ref if is_sha(ref) else None)
    if target and rev_parse(dest, "HEAD") != target:
        git("fetch", "--quiet", *(["--depth", str(depth)] if depth > 0 else []), "origin",
            target, cwd=dest)
        git("checkout", "--quiet", *(["-B", ref] if sha else ["--detach"]), target, cwd=dest)
    if persist:
        git("config", "http.https://github.com/.extraheader", "AUTHORIZATION: basic ***",
            cwd=dest)
    else:
        git("config", "remote.origin.pushurl", f"https://github.com/{repository}.no-token",
            cwd=dest)
    head = rev_parse(dest, "HEAD")
    log({"action": "checkout", "repository": repository, "ref": ref, "path": path,
         "fetchDepth": depth, "persistCredentials": persist,
         "token": bool(os.environ.get("IN_TOKEN")), "head": head})
    return 0


def rev_parse(cwd, rev):
    return subprocess.run(["git", "rev-parse", rev], cwd=cwd, check=True,
                          capture_output=True, text=True).stdout.strip()


def is_sha(ref):
    return len(ref) == 40 and all(c in "0123456789abcdef" for c in ref)


def upload_artifact():
    workspace = os.environ["GITHUB_WORKSPACE"]
    name = os.environ.get("IN_NAME") or "artifact"
    policy = os.environ.get("IN_IF_NO_FILES_FOUND") or "warn"
    patterns = [l.strip() for l in os.environ.get("IN_PATH", "").splitlines() if l.strip()]
    files = set()
    for pattern in (p for p in patterns if not p.startswith("!")):
        for match in glob.glob(os.path.join(workspace, pattern), recursive=True):
            if os.path.isdir(match):
                for root, _, names in os.walk(match):
                    files.update(os.path.join(root, n) for n in names)
            else:
                files.add(match)
    for pattern in (p[1:] for p in patterns if p.startswith("!")):
        files -= set(glob.glob(os.path.join(workspace, pattern), recursive=True))
    # like the real action, the artifact's root is the deepest directory holding every
    # search path (a single directory uploads its contents)
    roots = []
    for pattern in (p for p in patterns if not p.startswith("!")):
        literal = os.path.join(workspace, pattern.split("*")[0].split("?")[0])
        if os.path.isdir(literal) and "*" not in pattern and "?" not in pattern:
            roots.append(literal.rstrip("/"))
        else:
            roots.append(os.path.dirname(literal))
    base = os.path.commonpath(roots) if roots else workspace
    rel = sorted(os.path.relpath(f, base) for f in files)
    log({"action": "upload-artifact", "name": name, "path": patterns, "files": rel,
         "ifNoFilesFound": policy})
    if not rel:
        message = f"No files were found with the provided path: {' '.join(patterns)}."
        if policy == "error":
            print(f"::error::{message}", file=sys.stderr)
            return 1
        if policy == "warn":
            print(f"::warning::{message} No artifacts will be uploaded.", file=sys.stderr)
    out = os.path.join(os.environ["STANDIN_ARTIFACTS"], name)
    for r in rel:
        os.makedirs(os.path.dirname(os.path.join(out, r)), exist_ok=True)
        shutil.copyfile(os.path.join(base, r), os.path.join(out, r))
    hook = os.environ.get("STANDIN_AFTER_UPLOAD")
    if hook:
        subprocess.run(["bash", hook], check=True)
    return 0


def cache_dir():
    key = os.environ["IN_KEY"]
    if not key or "/" in key or key.startswith("."):
        raise SystemExit(f"::error::cache stand-in: unusable key {key!r}")
    return key, os.path.join(os.environ["STANDIN_CACHE"], key)


def cache_paths():
    return [os.path.expanduser(l.strip()) for l in os.environ["IN_PATH"].splitlines() if l.strip()]


def cache_restore():
    key, store = cache_dir()
    hit = os.path.isdir(store)
    if hit:
        for i, path in enumerate(cache_paths()):
            if os.path.exists(path):
                shutil.rmtree(path)
            shutil.copytree(os.path.join(store, str(i)), path, symlinks=True)
    with open(os.environ["GITHUB_OUTPUT"], "a") as f:
        f.write(f"cache-hit={'true' if hit else 'false'}\n")
    log({"action": "cache-restore", "key": key, "hit": hit})
    return 0


def cache_save():
    key, store = cache_dir()
    saved = not os.path.isdir(store)
    if saved:
        for i, path in enumerate(cache_paths()):
            shutil.copytree(path, os.path.join(store, str(i)), symlinks=True)
    log({"action": "cache-save", "key": key, "saved": saved})
    return 0


if __name__ == "__main__":
    sys.exit({"checkout": checkout, "upload-artifact": upload_artifact,
              "cache-restore": cache_restore, "cache-save": cache_save}[sys.argv[1]]())
