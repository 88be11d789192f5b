#!/usr/bin/env python3
"""Write a GitHub Packages container versions listing the way `gh api --paginate` prints it.

Every build is pushed the way the replaced pipeline pushed it: `pending-<sha>` and `<sha>`
on one digest. Pages are JSON arrays printed back to back (newest first, like the API).
Deterministic: digests and shas are hashes of the package name and build number.

  gen_ghcr.py --package NAME --org ORG --versions N --start RFC3339 --every SECONDS
              [--per-page 30] [--digest BUILD=DIGEST]... [--pretty] [--slim]

`--digest 12=sha256:...` gives build 12 (0 = oldest) that digest, so a listing can hold the
digests a repository pins. `--slim` leaves out the three URL fields (about 330 bytes a
version instead of 640; the package name must then be given to prune-plan).
"""
import argparse
import datetime as dt
import hashlib
import json
import sys


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--package", required=True)
    ap.add_argument("--org", required=True)
    ap.add_argument("--versions", type=int, required=True)
    ap.add_argument("--start", required=True)
    ap.add_argument("--every", type=int, required=True, help="seconds between builds")
    ap.add_argument("--per-page", type=int, default=30)
    ap.add_argument("--digest", action="append", default=[])
    ap.add_argument("--pretty", action="store_true")
    ap.add_argument("--slim", action="store_true")
    a = ap.parse_args()

    fixed = {}
    for d in a.digest:
        n, digest = d.split("=", 1)
        fixed[int(n)] = digest
    start = dt.datetime.fromisoformat(a.start.replace("Z", "+00:00"))
    base = f"https://api.github.com/orgs/{a.org}/packages/container/{a.package}"
    html = f"https://github.com/orgs/{a.org}/packages/container"
    versions = []
    for i in range(a.versions):
        h = hashlib.sha256(f"{a.package}/{i}".encode()).hexdigest()
        sha = hashlib.sha1(f"{a.package}/commit/{i}".encode()).hexdigest()
        vid = 100000000 + i * 7
        created = (start + dt.timedelta(seconds=i * a.every)).strftime("%Y-%m-%dT%H:%M:%SZ")
        v = {
            "id": vid,
            "name": fixed.get(i, "sha256:" + h),
            "url": f"{base}/versions/{vid}",
            "package_html_url": f"{html}/package/{a.package}",
            "created_at": created,
            "updated_at": created,
            "html_url": f"{html}/{a.package}/{vid}",
            "metadata": {
                "package_type": "container",
                "container": {"tags": [f"pending-{sha}", sha]},
            },
        }
        if a.slim:
            for k in ("url", "package_html_url", "html_url"):
                del v[k]
        versions.append(v)
    versions.reverse()  # the API lists newest first
    out = sys.stdout
    for p in range(0, len(versions), a.per_page):
        page = versions[p:p + a.per_page]
        if a.pretty:
            out.write(json.dumps(page, indent=2))
            out.write("\n")
        else:
            out.write(json.dumps(page, separators=(",", ":")))
    if not a.pretty:
        out.write("\n")


if __name__ == "__main__":
    main()
