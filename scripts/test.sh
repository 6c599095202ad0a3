#!/usr/bin/env bash
# The README's test command: installs what is missing, then runs every test.
#   1. scripts/setup.sh --with-qemu   (Debian packages; idempotent)
#   2. bazel test //...                (unit, golden-vector, conformance and model tests)
#   3. tools/e2e/run_all.sh            (patched QEMU + Linux guest end-to-end tests)
# With CI=true Bazel prints more progress and the end-to-end tests print their guest logs.
# The last line counts both: "tests: N passed, M failed".
set -euo pipefail
cd "$(dirname "$0")/.."

scripts/setup.sh --with-qemu

log="$(mktemp "${TMPDIR:-/tmp}/sef-test.XXXXXX")"
trap 'rm -f "$log"' EXIT

bazel_args=()
[[ "${CI:-}" == "true" ]] && bazel_args+=(--config=ci)
bazel_rc=0
bazel test "${bazel_args[@]}" //... 2>&1 | tee "$log" || bazel_rc=$?
# "Executed 3 out of 31 tests: 31 tests pass." / "... 29 tests pass and 2 fail locally."
summary="$(grep -E '^Executed [0-9]+ out of [0-9]+ tests?:' "$log" | tail -n 1 || true)"
unit_total="$(sed -E 's/^Executed [0-9]+ out of ([0-9]+) tests?:.*/\1/' <<<"$summary" || true)"
unit_failed="$( (grep -oE '[0-9]+ (fails?|failed)' <<<"$summary" || true) | awk '{ n += $1 } END { print n + 0 }')"
[[ -n "$unit_total" && "$unit_total" =~ ^[0-9]+$ ]] || unit_total=0
[[ -n "$unit_failed" ]] || unit_failed=0
if [[ $bazel_rc -ne 0 && $unit_failed -eq 0 ]]; then unit_failed=1; fi  # e.g. a build failure

e2e_rc=0
if [[ $bazel_rc -eq 0 ]]; then
  tools/e2e/run_all.sh 2>&1 | tee "$log" || e2e_rc=$?
fi
e2e_line="$(grep -E '^e2e: [0-9]+ passed, [0-9]+ failed' "$log" | tail -n 1 || true)"
e2e_passed="$(sed -E 's/^e2e: ([0-9]+) passed.*/\1/' <<<"$e2e_line" || true)"
e2e_failed="$(sed -E 's/^e2e: [0-9]+ passed, ([0-9]+) failed.*/\1/' <<<"$e2e_line" || true)"
[[ "$e2e_passed" =~ ^[0-9]+$ ]] || e2e_passed=0
[[ "$e2e_failed" =~ ^[0-9]+$ ]] || e2e_failed=0
if [[ $bazel_rc -eq 0 && $e2e_rc -ne 0 && $e2e_failed -eq 0 ]]; then e2e_failed=1; fi

passed=$(( unit_total - unit_failed + e2e_passed ))
failed=$(( unit_failed + e2e_failed ))
echo "tests: ${passed} passed, ${failed} failed"
[[ $bazel_rc -eq 0 && $e2e_rc -eq 0 ]]
