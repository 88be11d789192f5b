#!/usr/bin/env python3
"""A stand-in for `gh api` against GitHub Packages, for the bats suites.

State: the JSON file named by FAKE_GH_STATE, {"PATH": [versions, newest first]} where PATH
is "/orgs/ORG/packages/container/PKG". Every call is appended to FAKE_GH_LOG as one JSON
array of its arguments. Supported, the way gh behaves:

  gh api --paginate PATH/versions[?per_page=N]   pages (default 30) printed back to back
  gh api -X DELETE PATH/versions/ID              204, or "gh: Not Found (HTTP 404)" exit 1
"""
import json
import os
import sys
import urllib.parse


def main():
    args = sys.argv[1:]
    with open(os.environ["FAKE_GH_LOG"], "a") as log:
        log.write(json.dumps(args) + "\n")
    state_path = os.environ["FAKE_GH_STATE"]
    state = json.load(open(state_path))
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


if __name__ == "__main__":
    sys.exit(main())
