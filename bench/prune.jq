# prune-plan's rules as a jq 1.6 filter, for `make bench`: versions with a pending-* tag,
# created more than 14 days before $now, kept when their digest is pinned (a digest-pin
# scan, --slurpfile pins). Input: the concatenated pages of gh api --paginate (jq -n).
# Timestamps are cut to seconds by slicing: jq 1.6 cannot parse fractions or offsets.
($pins[0].digests | map({(.): true}) | add // {}) as $pinned
| ($now - 14 * 86400) as $cutoff
| [inputs[]
   | (.metadata.container.tags // []) as $tags
   | {id, digest: .name, tags: $tags, createdAt: .created_at,
      created: (.created_at[0:19] + "Z" | fromdateiso8601),
      matched: ([$tags[] | select(startswith("pending-"))] | length > 0)}
   | .reason = (if .matched | not then "not_matched"
                elif .created >= $cutoff then "too_recent"
                elif $pinned[.digest] then "protected_digest"
                else null end)]
| sort_by(.created, .id)
| {delete: [.[] | select(.reason == null)
            | {id, digest, tags, createdAt,
               ageDays: (($now - .created) / 86400 | floor), matchedBy: "pending-*"}],
   keep: [.[] | select(.reason != null) | {id, digest, tags, createdAt, reason}]}
| .summary = {delete: (.delete | length), keep: (.keep | length),
              byReason: (.keep | group_by(.reason) | map({(.[0].reason): length}) | add)}
