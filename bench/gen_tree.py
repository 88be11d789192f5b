#!/usr/bin/env python3
"""Generate a repository-like tree for the digest-pin benchmark.

gen_tree.py FILES DIR: FILES text files of about 10 KB (YAML manifests, shell scripts,
Markdown, Dockerfiles) in nested directories; 1% of them hold digest pins of three runtime
images (plus a look-alike that must never change). Deterministic (seeded), so runs compare.
"""
import os
import random
import sys

OLD = {
    "claude-runtime-review": "776980ed9009fe17dfdb782960978bd573842dc867728bd4e63d734871cdeef1",
    "claude-runtime-fix": "da2b6e52ad20159252cb6f24147d4ece221182dbb0b21df9fb32966126e24a20",
    "claude-runtime-explain": "23dd59f2651ebc9aba93b5c143d5b78d256c8abe1ebf970ad9c218f6aa06ff77",
}
WORDS = ("deploy service image replicas namespace config rollout canary health probe "
         "metadata labels selector container port volume secret release version").split()


def filler(rng, kind, size):
    lines = []
    n = 0
    while n < size:
        w = " ".join(rng.choice(WORDS) for _ in range(rng.randint(3, 9)))
        if kind == "yaml":
            line = f"{'  ' * rng.randint(0, 4)}{rng.choice(WORDS)}: {w}"
        elif kind == "sh":
            line = f"echo \"{w}\"  # {rng.choice(WORDS)}"
        elif kind == "md":
            line = f"- {w.capitalize()}."
        else:
            line = f"RUN {w}"
        lines.append(line)
        n += len(line) + 1
    return lines


def main():
    count, root = int(sys.argv[1]), sys.argv[2]
    rng = random.Random(42)
    kinds = [("yaml", ".yaml"), ("sh", ".sh"), ("md", ".md"), ("docker", ".Dockerfile")]
    pinned = 0
    for i in range(count):
        d = os.path.join(root, f"svc{i % 50:02d}", f"part{(i // 50) % 20:02d}")
        os.makedirs(d, exist_ok=True)
        kind, ext = kinds[i % len(kinds)]
        lines = filler(rng, kind, 10_000)
        if i % 100 == 7:
            pinned += 1
            for image, digest in OLD.items():
                at = rng.randrange(len(lines))
                lines.insert(at, f"    image: ghcr.io/glitchwerks/{image}@sha256:{digest}")
            lines.insert(0, f"# look-alike: ghcr.io/glitchwerks/claude-runtime-fix-extra@sha256:{OLD['claude-runtime-fix']}")
        with open(os.path.join(d, f"f{i:05d}{ext}"), "w") as f:
            f.write("\n".join(lines) + "\n")
    print(pinned)


if __name__ == "__main__":
    main()
