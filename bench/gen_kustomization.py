#!/usr/bin/env python3
"""A kustomization with N images entries, as a large monorepo overlay would have.

    gen_kustomization.py N FILE
"""
import sys

n, path = int(sys.argv[1]), sys.argv[2]
lines = [
    "apiVersion: kustomize.config.k8s.io/v1beta1",
    "kind: Kustomization",
    "# generated for make bench: one entry per service",
    "resources:",
    "  - deployments.yaml",
    "images:",
]
for i in range(n):
    lines.append(f"  - name: svc-{i:05d}  # team {i % 40}")
    lines.append(f"    newName: ghcr.io/acme/svc-{i:05d}")
    lines.append(f"    newTag: pr-{1000 + i}-{i * 7919 % 16**7:07x}")
open(path, "w").write("\n".join(lines) + "\n")
