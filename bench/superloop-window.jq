# The replaced script's approach: slurp the telemetry, keep autonomous executions,
# take the last N in file order, and sum the counters of the window.
[.[] | select(.category == "fleet_handoff_execute" and .execution.mode == "autonomous")]
| .[-$n:]
| {
    runs: length,
    attempted: (map(.execution.requestedIntentCount // 0) | add // 0),
    ambiguous: (map(.execution.ambiguousCount // 0) | add // 0),
    failed: (map(.execution.failedCount // 0) | add // 0)
  }
