#!/usr/bin/env python3
"""Generate a hash-chained policy-apply audit log for the apply-latency benchmark.

Usage: gen_audit.py N OUT_FILE
Records are chained exactly as policy-apply chains them: hash = sha256 of the canonical
JSON (sorted keys, no whitespace) of the record without "hash". Deterministic.
"""
import hashlib
import json
import sys

n, out = int(sys.argv[1]), sys.argv[2]
prev = "sha256:" + "0" * 64
with open(out, "w") as f:
    for i in range(1, n + 1):
        rec = {
            "schemaVersion": "v1", "kind": "apply-record",
            "timestamp": "2026-11-20T00:00:00Z", "status": "noop", "intent": "pause",
            "step": None, "toPercent": None, "subject": None, "decision": None,
            "governance": {"actor": "bench", "approvalRef": "CHG-0", "rationale": "bench",
                           "changedAt": "2026-11-20T00:00:00Z", "reviewBy": "2026-12-01T00:00:00Z"},
            "rollout": {"before": {"canaryPercent": 0, "manualPause": True},
                        "after": {"canaryPercent": 0, "manualPause": True}, "changed": False},
            "registry": {"path": "registry.json", "revisionBefore": "sha256:x", "revisionAfter": "sha256:x"},
            "idempotencyKey": f"key-{i}", "requestFingerprint": "sha256:f", "traceId": f"t{i}",
            "evidenceRefs": [], "replayed": False, "seq": i, "prevHash": prev,
        }
        canon = json.dumps(rec, sort_keys=True, separators=(",", ":"), ensure_ascii=False)
        rec["hash"] = prev = "sha256:" + hashlib.sha256(canon.encode()).hexdigest()
        f.write(json.dumps(rec, separators=(",", ":"), ensure_ascii=False) + "\n")
