#!/usr/bin/env bats
# The fast subset of make reliability: kill -9 at random moments during policy-apply,
# digest-pin --record and tag-bump --push (a few dozen runs each), parallel and racing
# runs, and 1 GiB inputs to every reader (tests/reliability/faults.py --quick).

setup() {
  load helpers
  setup_common
}

@test "faults, races and 1 GiB inputs: every invariant holds (quick run)" {
  run --separate-stderr python3 "$ROOT/tests/reliability/faults.py" --quick --json "$TMP/figures.json"
  echo "$output"
  echo "$stderr"
  assert_success
  [[ "$output" == *"kill -9 policy-apply: 30 runs"*"every invariant held"* ]]
  [[ "$output" == *"racing tag-bump --push: 12 runs, every invariant held"* ]]
  [[ "$output" == *"1 GiB inputs: 6 runs, peak RSS"* ]]
  assert_equal "$(json_get "$TMP/figures.json" 'd["quick"]')" true
}
