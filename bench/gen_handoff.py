#!/usr/bin/env python3
"""Generate superloop-style handoff telemetry (JSONL) for the gate-eval benchmark.

Usage: gen_handoff.py N OUT_DIR
Writes OUT_DIR/handoff.jsonl (N records), OUT_DIR/status.json and OUT_DIR/drills.json.
Deterministic: the same N gives the same bytes.
"""
import json
import random
import sys

n = int(sys.argv[1])
out = sys.argv[2]
rng = random.Random(42)
with open(f"{out}/handoff.jsonl", "w") as f:
    for i in range(n):
        category = "fleet_handoff_execute" if rng.random() < 0.7 else "fleet_handoff_plan"
        mode = "autonomous" if rng.random() < 0.9 else "manual"
        req = rng.randint(1, 5)
        rec = {
            "schemaVersion": "v1",
            "timestamp": f"2026-11-{1 + i % 20:02d}T{i % 24:02d}:{i % 60:02d}:00Z",
            "category": category,
            "traceId": f"trace-{i:08d}",
            "loopId": f"loop-{i % 37}",
            "execution": {
                "mode": mode,
                "requestedIntentCount": req,
                "executedCount": req,
                "ambiguousCount": 0,
                "failedCount": 1 if rng.random() < 0.02 else 0,
            },
        }
        f.write(json.dumps(rec, separators=(",", ":")) + "\n")
status = {
    "autonomous": {
        "enabled": True,
        "governance": {"posture": "active", "blocksAutonomous": False, "reasonCodes": []},
        "outcomeRollup": {"manual_backlog": 2},
        "rollout": {"autopause": {"active": False}},
        "safetyGateDecisions": {"byPath": {"policyGated": 0, "rolloutGated": 0,
                                           "governanceGated": 0, "transportGated": 0}},
    }
}
with open(f"{out}/status.json", "w") as f:
    json.dump(status, f)
drills = {"schemaVersion": "v1", "updatedAt": "2026-11-20T00:00:00Z", "drills": [
    {"id": d, "status": "pass", "completedAt": "2026-11-20T00:00:00Z"}
    for d in ["kill_switch", "sprite_service_outage", "ambiguous_retry_guard"]]}
with open(f"{out}/drills.json", "w") as f:
    json.dump(drills, f)
