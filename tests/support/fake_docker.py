#!/usr/bin/env python3
"""A stand-in for `docker`, for the workflow rehearsals: login, pull, inspect.

State: the JSON file named by FAKE_DOCKER_STATE, {"images": {REF: {"labels": {...}}}} where
REF is an image reference as a workflow names it (`ghcr.io/org/app@sha256:...`). Every call
is appended to FAKE_DOCKER_LOG as one JSON array of its arguments (for `login
--password-stdin`, then whether a password arrived; never the password).

  docker login HOST -u USER --password-stdin   "Login Succeeded" when stdin is not empty
  docker pull [--quiet] REF                    the reference, or "manifest unknown" exit 1
  docker inspect REF                           docker's shape: [{"Id", "RepoDigests",
                                               "Config": {"Labels": {...}}}], only after a pull
"""
import json
import os
import sys


def main():
    args = sys.argv[1:]
    entry = list(args)
    state = json.load(open(os.environ["FAKE_DOCKER_STATE"]))
    images = state.get("images", {})
    pulled = state.setdefault("pulled", [])
    code = 0
    if args[:1] == ["login"]:
        password = sys.stdin.read().strip() if "--password-stdin" in args else ""
        entry.append({"password": bool(password)})
        if password:
            print("Login Succeeded")
        else:
            print("Error: Cannot perform an interactive login from a non TTY device",
                  file=sys.stderr)
            code = 1
    elif args[:1] == ["pull"]:
        ref = [a for a in args[1:] if not a.startswith("-")][-1]
        if ref in images:
            pulled.append(ref)
            print(ref)
        else:
            print(f"Error response from daemon: manifest unknown: {ref}", file=sys.stderr)
            code = 1
    elif args[:1] == ["inspect"]:
        ref = args[-1]
        if ref in images and ref in pulled:
            digest = ref.split("@", 1)[1] if "@" in ref else "sha256:" + "0" * 64
            print(json.dumps([{"Id": digest, "RepoDigests": [ref],
                               "Config": {"Labels": images[ref].get("labels", {})}}], indent=4))
        else:
            print("[]")
            print(f"Error: No such object: {ref}", file=sys.stderr)
            code = 1
    else:
        print(f"fake docker: unsupported command {args}", file=sys.stderr)
        code = 2
    with open(os.environ["FAKE_DOCKER_LOG"], "a") as log:
        log.write(json.dumps(entry) + "\n")
    with open(os.environ["FAKE_DOCKER_STATE"] + ".tmp", "w") as f:
        json.dump(state, f)
    os.replace(os.environ["FAKE_DOCKER_STATE"] + ".tmp", os.environ["FAKE_DOCKER_STATE"])
    return code


if __name__ == "__main__":
    sys.exit(main())
