#!/usr/bin/env bash
# Runs every end-to-end test: builds (or reuses from ~/.cache/sef) the patched QEMU and the guest,
# then runs tools/e2e/test_*.sh one after the other. Prints one line per test and, last,
# "e2e: N passed, M failed"; exits non-zero when M > 0.
#
#   tools/e2e/run_all.sh [TEST_NAME...]     (default: all; e.g. run_all.sh test_zns)
#
# Environment:
#   CI=true / SEF_E2E_VERBOSE=1   print every test's full log (default: only failing tests' logs)
#   SEF_E2E_LOGDIR                keep the logs there (default: a new /tmp/sef-e2e-logs.XXXXXX)
#   SEF_E2E_TEST_TIMEOUT          per-test limit in seconds (default 900)
#   SEF_E2E_VM_TIMEOUT            per-VM limit the tests pass to run_vm.sh (default 300)
#   SEF_QEMU / SEF_GUEST_DIR      use this QEMU binary / guest directory instead of building
set -uo pipefail
export PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin

HERE="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
REPO_ROOT="$(cd "$HERE/../.." && pwd)"
VERBOSE=0
[[ "${CI:-}" == "true" || "${SEF_E2E_VERBOSE:-0}" == 1 ]] && VERBOSE=1
LOGDIR="${SEF_E2E_LOGDIR:-$(mktemp -d "${TMPDIR:-/tmp}/sef-e2e-logs.XXXXXX")}"
mkdir -p "$LOGDIR"
TEST_TIMEOUT="${SEF_E2E_TEST_TIMEOUT:-900}"

# Tests that need no VM (they run even if QEMU or the guest cannot be built).
NO_VM_TESTS=(test_broken_patch)
# VM tests, cheapest first.
VM_TESTS=(test_runner test_virtio_blk test_zns test_sef_controller test_sef_zns test_sef_block test_bench_smoke)

selected=("$@")
want() { [[ ${#selected[@]} -eq 0 ]] || [[ " ${selected[*]} " == *" $1 "* ]]; }
for s in "${selected[@]+"${selected[@]}"}"; do
  [[ " ${NO_VM_TESTS[*]} ${VM_TESTS[*]} " == *" $s "* ]] || { echo "run_all.sh: unknown test '$s' (tests: ${NO_VM_TESTS[*]} ${VM_TESTS[*]})" >&2; exit 2; }
done

passed=0
failed=0
T0=$SECONDS

report() { # NAME STATUS SECONDS [NOTE]
  local name="$1" st="$2" secs="$3" note="${4:-}"
  if [[ "$st" == PASS ]]; then passed=$((passed + 1)); else failed=$((failed + 1)); fi
  printf '%s %-18s %4ds%s\n' "$st" "$name" "$secs" "${note:+  $note}"
}

run_test() { # NAME
  local name="$1" t0=$SECONDS rc log="$LOGDIR/$1.log"
  timeout --kill-after=10 "$TEST_TIMEOUT" "$HERE/$name.sh" >"$log" 2>&1
  rc=$?
  local secs=$((SECONDS - t0))
  if [[ $rc -eq 0 ]]; then
    report "$name" PASS "$secs"
    [[ $VERBOSE -eq 1 ]] && sed "s/^/    [$name] /" "$log"
  else
    local note="(log: $log)"
    [[ $rc -eq 124 ]] && note="(timed out after ${TEST_TIMEOUT}s; log: $log)"
    report "$name" FAIL "$secs" "$note"
    if [[ $VERBOSE -eq 1 ]]; then
      sed "s/^/    [$name] /" "$log"
    else
      grep -E '^FAIL' "$log" | sed "s/^/    [$name] /"
      echo "    [$name] last 40 lines of the log:"
      tail -n 40 "$log" | sed "s/^/    [$name] /"
    fi
  fi
}

for t in "${NO_VM_TESTS[@]}"; do want "$t" && run_test "$t"; done

need_vm=0
for t in "${VM_TESTS[@]}"; do want "$t" && need_vm=1; done
if [[ $need_vm -eq 1 ]]; then
  build_ok=1
  if [[ -z "${SEF_QEMU:-}" ]]; then
    t0=$SECONDS
    echo "e2e: patched QEMU (tools/qemu/build_qemu.sh)..." >&2
    if SEF_QEMU="$("$REPO_ROOT/tools/qemu/build_qemu.sh" | tail -n1)" && [[ -x "$SEF_QEMU" ]]; then
      echo "e2e: QEMU ready in $((SECONDS - t0)) s: $SEF_QEMU" >&2
    else
      echo "e2e: building the patched QEMU FAILED (see above)" >&2
      build_ok=0
    fi
  fi
  if [[ -z "${SEF_GUEST_DIR:-}" ]]; then
    t0=$SECONDS
    echo "e2e: guest kernel and initramfs (tools/vm/build_guest.sh)..." >&2
    if SEF_GUEST_DIR="$("$REPO_ROOT/tools/vm/build_guest.sh" | tail -n1)" && [[ -f "$SEF_GUEST_DIR/vmlinuz" ]]; then
      echo "e2e: guest ready in $((SECONDS - t0)) s: $SEF_GUEST_DIR" >&2
    else
      echo "e2e: building the guest FAILED (see above)" >&2
      build_ok=0
    fi
  fi
  export SEF_QEMU SEF_GUEST_DIR
  for t in "${VM_TESTS[@]}"; do
    want "$t" || continue
    if [[ $build_ok -eq 1 ]]; then
      run_test "$t"
    else
      report "$t" FAIL 0 "(not run: QEMU or guest build failed)"
    fi
  done
fi

echo "e2e: logs in $LOGDIR; total $((SECONDS - T0)) s" >&2
echo "e2e: $passed passed, $failed failed"
[[ $failed -eq 0 ]]
