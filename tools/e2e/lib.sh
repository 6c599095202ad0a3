# shellcheck shell=bash disable=SC2034
# Helpers for the end-to-end tests (sourced). Each test is a bash script that prints what it
# checks ("ok: ..." / "FAIL: ...") and exits non-zero if any check failed.
# run_all.sh exports SEF_QEMU and SEF_GUEST_DIR so that run_vm.sh builds nothing.

E2E_DIR="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
REPO_ROOT="$(cd "$E2E_DIR/../.." && pwd)"
RUN_VM="$REPO_ROOT/tools/vm/run_vm.sh"
STOCK_DEVICES="$REPO_ROOT/tools/vm/stock_devices.sh"
E2E_FAILURES=0

# A scratch directory for this test, removed at exit (set SEF_E2E_KEEP=1 to keep it).
E2E_TMP="$(mktemp -d "${TMPDIR:-/tmp}/sef-e2e-$(basename "$0" .sh).XXXXXX")"
e2e_cleanup() { [[ "${SEF_E2E_KEEP:-0}" == 1 ]] || rm -rf "$E2E_TMP"; }
trap e2e_cleanup EXIT

ok() { echo "ok: $*"; }
fail() { echo "FAIL: $*"; E2E_FAILURES=$((E2E_FAILURES + 1)); }

# check DESCRIPTION COMMAND...: runs the command, records ok/FAIL.
check() {
  local what="$1"; shift
  if "$@"; then ok "$what"; else fail "$what"; fi
}

# has FILE ERE: the file has a line matching the extended regex.
has() { grep -Eq -- "$2" "$1"; }
# lacks FILE ERE: no line matches.
lacks() { ! grep -Eq -- "$2" "$1"; }

# show FILE: prints a captured guest output, indented, for the log.
show() { sed 's/^/  | /' "$1"; }

# run_guest QEMU_ARGS...: runs $E2E_TMP/guest.sh in a VM with the given devices; the guest's
# output lands in $E2E_TMP/output.txt (shown in the log), its shared folder in $E2E_TMP/out.
# Records the check "runner exit status 0" and sets RUN_RC to the runner's status.
run_guest() {
  set +e
  "$RUN_VM" --timeout "${SEF_E2E_VM_TIMEOUT:-300}" --out "$E2E_TMP/out" --script "$E2E_TMP/guest.sh" \
    -- "$@" >"$E2E_TMP/output.txt" 2>"$E2E_TMP/runner.err"
  RUN_RC=$?
  set -e
  show "$E2E_TMP/output.txt"
  check "runner exit status 0 (got $RUN_RC)" test "$RUN_RC" -eq 0
  [[ $RUN_RC -eq 0 ]] || sed 's/^/  runner: /' "$E2E_TMP/runner.err"
}

# e2e_done: prints the summary and exits with the right status.
e2e_done() {
  if [[ $E2E_FAILURES -eq 0 ]]; then
    echo "all checks passed"
    exit 0
  fi
  echo "$E2E_FAILURES check(s) failed"
  exit 1
}

# qemu_procs_with STRING: pids of live QEMU processes whose command line contains STRING.
qemu_procs_with() {
  local pid
  for pid in $(pgrep -f -- "$1" 2>/dev/null || true); do
    [[ "$pid" == "$$" ]] && continue
    if [[ "$(cat "/proc/$pid/comm" 2>/dev/null)" == qemu-system-* ]]; then echo "$pid"; fi
  done
}

# qemu_start_error QEMU NAME EXPECTED-ERE QEMU-ARGS...: QEMU (no guest) exits 1 at start with
# one line of output matching EXPECTED-ERE (three checks); the output is kept in $E2E_TMP/NAME.out.
qemu_start_error() {
  local qemu="$1" name="$2" want="$3" rc=0
  shift 3
  timeout 60 "$qemu" -nodefaults -display none -machine q35 -accel tcg \
    -L /usr/share/seabios -L /usr/share/qemu "$@" >"$E2E_TMP/$name.out" 2>&1 || rc=$?
  sed 's/^/  | /' "$E2E_TMP/$name.out"
  check "$name: QEMU exits 1 at start (got $rc)" test "$rc" -eq 1
  check "$name: one line of output" test "$(wc -l <"$E2E_TMP/$name.out")" -eq 1
  check "$name: the message names the problem" has "$E2E_TMP/$name.out" "$want"
}

# run_guest_until_killed SCRIPT KILL-AT ON-READY QEMU-ARGS...: boots a VM running SCRIPT, which
# writes "ready" to $SEF_OUT/progress.txt, waits for $SEF_OUT/go, then works and logs progress
# lines there. When "ready" appears, runs the command ON-READY (e.g. checks that need this
# QEMU running) and creates "go"; when the line KILL-AT appears, kill -9s the test's QEMU
# (every QEMU whose command line holds $E2E_TMP). Sets KILLED (1 when it did) and PROGRESS
# (the progress file); the guest's output is $E2E_TMP/output2.txt.
run_guest_until_killed() {
  local script="$1" kill_at="$2" on_ready="$3" runner ready=0 pids
  shift 3
  PROGRESS="$E2E_TMP/out/progress.txt"
  KILLED=0
  rm -f "$PROGRESS" "$E2E_TMP/out/go"
  set +e
  "$RUN_VM" --timeout 300 --out "$E2E_TMP/out" --script "$script" -- "$@" \
    >"$E2E_TMP/output2.txt" 2>"$E2E_TMP/runner2.err" &
  runner=$!
  set -e
  for _ in $(seq 1 1200); do
    kill -0 "$runner" 2>/dev/null || break
    if [[ $ready -eq 0 ]] && grep -q '^ready$' "$PROGRESS" 2>/dev/null; then
      ready=1
      $on_ready
      touch "$E2E_TMP/out/go"
    fi
    if grep -qx -- "$kill_at" "$PROGRESS" 2>/dev/null; then
      pids="$(qemu_procs_with "$E2E_TMP")"
      # shellcheck disable=SC2086 # one pid per word
      if [[ -n "$pids" ]]; then kill -KILL $pids && KILLED=1; fi
      break
    fi
    sleep 0.25
  done
  wait "$runner" 2>/dev/null || true
  show "$E2E_TMP/output2.txt"
  echo "  progress file:"
  show "$PROGRESS"
}
