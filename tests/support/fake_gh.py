#!/usr/bin/env python3
"""A stand-in for `gh`, for the bats suites: GitHub Packages, secrets, workflow runs.

State: the JSON file named by FAKE_GH_STATE: {"PATH": [versions, newest first]} where PATH
is "/orgs/ORG/packages/container/PKG", plus "secrets" {REPO: {NAME: value}} and "runs"
[{id, workflow, ref, inputs, conclusion, views}]. Every call is appended to FAKE_GH_LOG as
one JSON array of its arguments (for `secret set`, then the value read and the GH_TOKEN
seen, so a test can check what gh received). Supported, the way gh behaves:

  gh api --paginate PATH/versions[?per_page=N]   pages (default 30) printed back to back
  gh api -X DELETE PATH/versions/ID              204, or "gh: Not Found (HTTP 404)" exit 1
  gh secret set NAME --repo R                    the value from stdin (FAKE_GH_FAIL=secret: 403)
  gh workflow run WF --repo R [--ref REF] -f K=V a new run, listed from the second listing on;
                                                 it concludes FAKE_GH_CONCLUSION (default
                                                 success) on its third view
  gh run list --repo R --workflow WF ... --json databaseId --jq '.[].databaseId'
  gh run view ID --repo R --json status,conclusion,url --jq '"\\(.status) ..."'
  gh pr view --json number --jq .number         FAKE_GH_PR, else "no pull requests found"
  gh pr create --base B --head H --title T --body-file F
                                                 state "prs" gains {number, base, head,
                                                 title, body}; the head branch must exist
                                                 on FAKE_GH_REMOTE when that is set
  gh issue list --state open --search '"KEY" in:body' --json number --jq '.[0].number // empty'
  gh issue create --title T --body-file F        state "issues" gains {number, title, body,
  gh issue edit N [--title T] --body-file F      state, comments}
  gh issue close N --comment C
Only the --jq programs the scripts use are known; any other is an error, so a change in a
script's query fails its tests instead of passing unnoticed.
"""
import json
import os
import subprocess
import sys
import urllib.parse


def main():
    args = sys.argv[1:]
    with open(os.environ["FAKE_GH_LOG"], "a") as log:
        log.write(json.dumps(args) + "\n")
    state_path = os.environ["FAKE_GH_STATE"]
    state = json.load(open(state_path))
    if args[:2] == ["pr", "view"]:
        # the pull request of the current branch: FAKE_GH_PR, else none
        if args[2:] != ["--json", "number", "--jq", ".number"]:
            print(f"fake gh: unsupported {args}", file=sys.stderr)
            return 2
        if not os.environ.get("FAKE_GH_PR"):
            print('no pull requests found for branch "main"', file=sys.stderr)
            return 1
        print(os.environ["FAKE_GH_PR"])
        return 0
    if args[:1] in (["secret"], ["workflow"], ["run"]):
        return repo_command(args, state, state_path)
    if args[:2] == ["pr", "create"] or args[:1] == ["issue"]:
        return tracker_command(args, state, state_path)
    if not args or args[0] != "api":
        print(f"fake gh: unsupported command {args}", file=sys.stderr)
        return 2
    rest = args[1:]
    method = "GET"
    paginate = False
    path = None
    while rest:
        a = rest.pop(0)
        if a == "-X":
            method = rest.pop(0)
        elif a == "--paginate":
            paginate = True
        elif a.startswith("-"):
            print(f"fake gh: unsupported flag {a}", file=sys.stderr)
            return 2
        else:
            path = a
    url = urllib.parse.urlsplit(path)
    query = urllib.parse.parse_qs(url.query)
    parts = url.path.rstrip("/").split("/")
    if method == "GET" and parts[-1] == "versions":
        package = "/".join(parts[:-1])
        versions = state.get(package)
        if versions is None:
            print("gh: Package not found. (HTTP 404)", file=sys.stderr)
            return 1
        per_page = int(query.get("per_page", ["30"])[0])
        pages = [versions[i:i + per_page] for i in range(0, len(versions), per_page)] or [[]]
        if not paginate:
            pages = pages[:1]
        sys.stdout.write("".join(json.dumps(p, separators=(",", ":")) for p in pages))
        return 0
    if method == "DELETE" and parts[-2] == "versions":
        package = "/".join(parts[:-2])
        vid = urllib.parse.unquote(parts[-1])
        versions = state.get(package, [])
        kept = [v for v in versions if str(v["id"]) != vid]
        if len(kept) == len(versions):
            print("gh: Not Found (HTTP 404)", file=sys.stderr)
            return 1
        state[package] = kept
        with open(state_path + ".tmp", "w") as f:
            json.dump(state, f)
        os.replace(state_path + ".tmp", state_path)
        return 0
    print(f"fake gh: unsupported request {method} {path}", file=sys.stderr)
    return 2


RUN_LIST_JQ = ".[].databaseId"
RUN_VIEW_JQ = '"\\(.status) \\(.conclusion // "-") \\(.url)"'


def save(state, state_path):
    with open(state_path + ".tmp", "w") as f:
        json.dump(state, f)
    os.replace(state_path + ".tmp", state_path)


def options(rest):
    """Split gh-style arguments into positionals and {flag: [values]}."""
    pos, opts = [], {}
    while rest:
        a = rest.pop(0)
        if a.startswith("-"):
            opts.setdefault(a, []).append(rest.pop(0) if rest else "")
        else:
            pos.append(a)
    return pos, opts


def repo_command(args, state, state_path):
    group, verb = args[0], args[1] if len(args) > 1 else ""
    pos, opts = options(args[2:])
    repo = opts.get("--repo", [None])[0]
    if not repo:
        print("fake gh: --repo is required here", file=sys.stderr)
        return 2
    if (group, verb) == ("secret", "set"):
        value = sys.stdin.read()
        with open(os.environ["FAKE_GH_LOG"], "a") as log:
            log.write(json.dumps({"secret": pos[0], "value": value,
                                  "token": os.environ.get("GH_TOKEN")}) + "\n")
        if os.environ.get("FAKE_GH_FAIL") == "secret":
            print("failed to fetch public key: HTTP 403: Resource not accessible by integration",
                  file=sys.stderr)
            return 1
        state.setdefault("secrets", {}).setdefault(repo, {})[pos[0]] = value
        save(state, state_path)
        print(f"✓ Set Actions secret {pos[0]} for {repo}", file=sys.stderr)
        return 0
    runs = state.setdefault("runs", [])
    if (group, verb) == ("workflow", "run"):
        inputs = dict(f.split("=", 1) for f in opts.get("-f", []))
        run = {"id": 9000 + len(runs), "repo": repo, "workflow": pos[0],
               "ref": opts.get("--ref", ["main"])[0], "inputs": inputs,
               "conclusion": os.environ.get("FAKE_GH_CONCLUSION", "success"), "views": 0,
               # like GitHub, the new run is not listed at once
               "hidden": 1}
        runs.append(run)
        save(state, state_path)
        print(f"✓ Created workflow_dispatch event for {pos[0]} at {run['ref']}", file=sys.stderr)
        return 0
    if (group, verb) == ("run", "list"):
        if opts.get("--jq") != [RUN_LIST_JQ]:
            print(f"fake gh: unknown --jq {opts.get('--jq')}", file=sys.stderr)
            return 2
        wf = opts.get("--workflow", [None])[0]
        for run in reversed(runs):
            if run.get("hidden", 0) > 0:
                run["hidden"] -= 1
            elif run["repo"] == repo and run["workflow"] == wf:
                print(run["id"])
        save(state, state_path)
        return 0
    if (group, verb) == ("run", "view"):
        if opts.get("--jq") != [RUN_VIEW_JQ]:
            print(f"fake gh: unknown --jq {opts.get('--jq')}", file=sys.stderr)
            return 2
        run = next((r for r in runs if str(r["id"]) == pos[0]), None)
        if run is None:
            print("could not find any workflow run with ID " + pos[0], file=sys.stderr)
            return 1
        run["views"] += 1
        save(state, state_path)
        status = ["queued", "in_progress"][run["views"] - 1] if run["views"] < 3 else "completed"
        conclusion = run["conclusion"] if status == "completed" else "-"
        print(f"{status} {conclusion} https://github.com/{repo}/actions/runs/{run['id']}")
        return 0
    print(f"fake gh: unsupported command {args}", file=sys.stderr)
    return 2


ISSUE_LIST_JQ = ".[0].number // empty"


def read_body(opts):
    with open(opts["--body-file"][0]) as f:
        return f.read()


def tracker_command(args, state, state_path):
    """Pull requests and issues of the current repository (GH_REPO or the origin's)."""
    group, verb = args[0], args[1] if len(args) > 1 else ""
    pos, opts = options(args[2:])
    if (group, verb) == ("pr", "create"):
        head, base = opts["--head"][0], opts["--base"][0]
        remote = os.environ.get("FAKE_GH_REMOTE")
        if remote and subprocess.run(["git", "--git-dir", remote, "rev-parse", "--verify",
                                      "--quiet", f"refs/heads/{head}"],
                                     stdout=subprocess.DEVNULL).returncode != 0:
            print(f"pull request create failed: GraphQL: Head sha can't be blank, Head ref "
                  f"must be a branch ({head})", file=sys.stderr)
            return 1
        prs = state.setdefault("prs", [])
        pr = {"number": 100 + len(prs), "base": base, "head": head,
              "title": opts["--title"][0], "body": read_body(opts)}
        prs.append(pr)
        save(state, state_path)
        print(f"https://github.com/acme/repo/pull/{pr['number']}")
        return 0
    issues = state.setdefault("issues", [])
    if verb == "list":
        if opts.get("--jq") != [ISSUE_LIST_JQ] or opts.get("--json") != ["number"]:
            print(f"fake gh: unknown --json/--jq {opts}", file=sys.stderr)
            return 2
        search = opts.get("--search", [""])[0]
        key = search.split('"')[1] if search.count('"') >= 2 else search
        found = [i for i in issues if i["state"] == opts.get("--state", ["open"])[0]
                 and key in i["body"]]
        if found:
            print(found[0]["number"])
        return 0
    if verb == "create":
        issue = {"number": 1 + len(issues), "title": opts["--title"][0],
                 "body": read_body(opts), "state": "open", "comments": []}
        issues.append(issue)
        save(state, state_path)
        print(f"https://github.com/acme/repo/issues/{issue['number']}")
        return 0
    issue = next((i for i in issues if str(i["number"]) == (pos or [""])[0]), None)
    if issue is None:
        print(f"GraphQL: Could not resolve to an issue with the number of {pos}.",
              file=sys.stderr)
        return 1
    if verb == "edit":
        issue["body"] = read_body(opts)
        issue["title"] = opts.get("--title", [issue["title"]])[0]
    elif verb == "close":
        issue["state"] = "closed"
        issue["comments"] += opts.get("--comment", [])
    else:
        print(f"fake gh: unsupported command {args}", file=sys.stderr)
        return 2
    save(state, state_path)
    return 0


if __name__ == "__main__":
    sys.exit(main())
