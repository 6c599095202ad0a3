#!/usr/bin/env bash
# The README's test command: installs what is missing, then runs every test.
#   1. scripts/setup.sh --with-qemu            Debian packages (idempotent)
#   2. bazel test //...                         unit, golden-vector, model, HAL, bridge tests
#   3. bazel test --config=tsan <concurrency>   the multi-threaded suites under ThreadSanitizer
#   4. bazel test --config=asan <model, codec, zns, ftl>  those suites under AddressSanitizer
#   5. bazel test --config=tsa //...            clang 14 with -Wthread-safety (fatal for our code):
#                                               the lock annotations checked, every test under clang
#   6. bazel test --config=fuzz <fuzz runs>     every fuzz target for 5 s from its seed corpus
#                                               (clang, libFuzzer, ASan, UBSan; docs/testing.md)
#   7. tools/e2e/run_all.sh                     patched QEMU + Linux guest end-to-end tests
# With CI=true Bazel prints more progress and the end-to-end tests print their guest logs.
# The last line counts everything: "tests: N passed, M failed".
set -euo pipefail
cd "$(dirname "$0")/.."

scripts/setup.sh --with-qemu

log="$(mktemp "${TMPDIR:-/tmp}/sef-test.XXXXXX")"
trap 'rm -f "$log"' EXIT
passed=0
failed=0
status=0

bazel_args=()
[[ "${CI:-}" == "true" ]] && bazel_args+=(--config=ci)

# bazel_step ARGS...: one `bazel test`, its counts added to the totals.
bazel_step() {
  local rc=0 summary total fails
  bazel test "${bazel_args[@]}" "$@" 2>&1 | tee "$log" || rc=$?
  # "Executed 3 out of 31 tests: 31 tests pass." / "... 29 tests pass and 2 fail locally."
  summary="$(grep -E '^Executed [0-9]+ out of [0-9]+ tests?:' "$log" | tail -n 1 || true)"
  total="$(sed -E 's/^Executed [0-9]+ out of ([0-9]+) tests?:.*/\1/' <<<"$summary" || true)"
  fails="$( (grep -oE '[0-9]+ (fails?|failed)' <<<"$summary" || true) | awk '{ n += $1 } END { print n + 0 }')"
  [[ "$total" =~ ^[0-9]+$ ]] || total=0
  if [[ $rc -ne 0 && $fails -eq 0 ]]; then fails=1; fi  # e.g. a build failure
  passed=$((passed + total - fails))
  failed=$((failed + fails))
  [[ $rc -eq 0 ]] || status=1
}

bazel_step //...
bazel_step --config=tsan //sef/hal/model:model_concurrency_test //sef/hal:conformance_test \
  //sef/hal:hal_test //sef/hal:power_loss_test \
  //sef/hal/kernel:transport_engine_test //sef/qemu_bridge:sef_bridge_test //sef/qemu_bridge:disk_test \
  //sef/qemu_bridge:submission_worker_test //sef/qemu_bridge:disk_stress_test \
  //sef/zns:zns_concurrency_test //sef/zns:zns_test //sef/zns:zns_power_loss_test \
  //sef/ftl:ftl_test //sef/ftl:ftl_power_loss_test
bazel_step --config=asan //sef/hal/model/... //sef/hal/cmd/... //sef/zns/... //sef/ftl/...
bazel_step --config=tsa //...
# The fuzz runs are manual targets (wildcards skip them): ask for them by their tag.
mapfile -t fuzz_runs < <(bazel query 'attr(tags, "\bfuzz\b", tests(//...))' 2>/dev/null)
if [[ ${#fuzz_runs[@]} -eq 0 ]]; then
  echo "test.sh: no fuzz targets found" >&2
  failed=$((failed + 1))
  status=1
else
  bazel_step --config=fuzz "${fuzz_runs[@]}"
fi

if [[ $status -eq 0 ]]; then
  e2e_rc=0
  tools/e2e/run_all.sh 2>&1 | tee "$log" || e2e_rc=$?
  line="$(grep -E '^e2e: [0-9]+ passed, [0-9]+ failed' "$log" | tail -n 1 || true)"
  e2e_passed="$(sed -E 's/^e2e: ([0-9]+) passed.*/\1/' <<<"$line" || true)"
  e2e_failed="$(sed -E 's/^e2e: [0-9]+ passed, ([0-9]+) failed.*/\1/' <<<"$line" || true)"
  [[ "$e2e_passed" =~ ^[0-9]+$ ]] || e2e_passed=0
  [[ "$e2e_failed" =~ ^[0-9]+$ ]] || e2e_failed=0
  if [[ $e2e_rc -ne 0 && $e2e_failed -eq 0 ]]; then e2e_failed=1; fi
  passed=$((passed + e2e_passed))
  failed=$((failed + e2e_failed))
  [[ $e2e_rc -eq 0 ]] || status=1
else
  echo "test.sh: Bazel tests failed; the end-to-end tests were not run"
fi

echo "tests: ${passed} passed, ${failed} failed"
exit "$status"
