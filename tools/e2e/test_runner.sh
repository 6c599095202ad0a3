#!/usr/bin/env bash
# E2E of the runner itself (tools/vm/run_vm.sh): a failing script's status and output come back,
# files written to the shared folder appear on the host, --env reaches the script, a script that
# outlives --timeout gives 124, a SIGTERM to the runner and a guest kernel panic are handled, and in
# every case no QEMU process is left behind.
set -euo pipefail
source "$(dirname "$0")/lib.sh"

# run_case NAME [runner args...]: runs the runner with TMPDIR under a per-case directory whose
# path is then in QEMU's command line, so leftover QEMUs can be found by it. Sets RC and ELAPSED.
run_case() {
  local name="$1"; shift
  mkdir -p "$E2E_TMP/$name/tmp"
  local t0=$SECONDS
  set +e
  TMPDIR="$E2E_TMP/$name/tmp" "$RUN_VM" "$@" >"$E2E_TMP/$name/stdout" 2>"$E2E_TMP/$name/stderr"
  RC=$?
  set -e
  ELAPSED=$((SECONDS - t0))
  echo "  [$name] exit $RC after ${ELAPSED}s; stdout:"
  sed 's/^/  | /' "$E2E_TMP/$name/stdout"
}
no_qemu_left() { # NAME
  local left
  left="$(qemu_procs_with "$E2E_TMP/$1/")"
  [[ -z "$left" ]] || { echo "  leftover QEMU pid(s): $left"; kill -KILL $left 2>/dev/null; return 1; }
}

# 1. A failing script: its status and its stdout+stderr come back.
cat >"$E2E_TMP/fail.sh" <<'GUEST'
#!/bin/sh
echo "about to fail"
echo "this goes to stderr" >&2
exit 7
GUEST
run_case fail --timeout 120 --script "$E2E_TMP/fail.sh"
check "failing script: runner returns its status 7 (got $RC)" test "$RC" -eq 7
check "failing script: stdout captured" has "$E2E_TMP/fail/stdout" '^about to fail$'
check "failing script: stderr captured" has "$E2E_TMP/fail/stdout" '^this goes to stderr$'
check "failing script: no QEMU left" no_qemu_left fail

# 2. Outputs through the shared folder, --env, the guest kernel.
cat >"$E2E_TMP/out.sh" <<'GUEST'
#!/bin/bash
set -e
mkdir -p "$SEF_OUT/sub"
uname -r >"$SEF_OUT/kernel.txt"
echo "$GREETING" >"$SEF_OUT/sub/greeting.txt"
dd if=/dev/urandom of="$SEF_OUT/sub/blob.bin" bs=64k count=16 status=none
sha256sum "$SEF_OUT/sub/blob.bin" | cut -d' ' -f1
echo "pwd=$(pwd) user=$(id -un)"
grep -qw zonefs /proc/filesystems && echo "zonefs-available"
GUEST
run_case out --timeout 120 --modules zonefs --out "$E2E_TMP/out/shared" --env "GREETING=hello from the guest" --script "$E2E_TMP/out.sh"
check "shared folder: runner exit 0 (got $RC)" test "$RC" -eq 0
check "shared folder: kernel.txt has the guest's 6.1 kernel" has "$E2E_TMP/out/shared/kernel.txt" '^6\.1\.[0-9]+-[0-9]+-amd64$'
check "shared folder: --env value arrived" has "$E2E_TMP/out/shared/sub/greeting.txt" '^hello from the guest$'
host_sum="$(sha256sum "$E2E_TMP/out/shared/sub/blob.bin" 2>/dev/null | cut -d' ' -f1)"
check "shared folder: 1 MiB file intact on the host (sha256 ${host_sum:0:12}...)" has "$E2E_TMP/out/stdout" "^${host_sum:-none}\$"
check "script ran as root in /tmp" has "$E2E_TMP/out/stdout" '^pwd=/tmp user=root$'
check "--modules zonefs: the guest kernel has zonefs" has "$E2E_TMP/out/stdout" "^zonefs-available\$"
check "shared folder: no QEMU left" no_qemu_left out

# 3. A script that outlives --timeout.
cat >"$E2E_TMP/sleep.sh" <<'GUEST'
#!/bin/sh
echo "sleeping"
sleep 600
echo "not reached"
GUEST
run_case timeout --timeout 15 --script "$E2E_TMP/sleep.sh"
check "timeout: runner returns 124 (got $RC)" test "$RC" -eq 124
check "timeout: returned within 15 s + 10 s (took ${ELAPSED}s)" test "$ELAPSED" -le 25
check "timeout: says so on stderr" has "$E2E_TMP/timeout/stderr" 'TIMEOUT after 15s'
check "timeout: no QEMU left" no_qemu_left timeout

# 4. SIGTERM to the runner while the guest runs.
mkdir -p "$E2E_TMP/sigterm/tmp"
TMPDIR="$E2E_TMP/sigterm/tmp" "$RUN_VM" --timeout 300 --script "$E2E_TMP/sleep.sh" \
  >"$E2E_TMP/sigterm/stdout" 2>"$E2E_TMP/sigterm/stderr" &
runner=$!
seen=""
for _ in $(seq 1 100); do
  seen="$(qemu_procs_with "$E2E_TMP/sigterm/")"
  [[ -n "$seen" ]] && break
  sleep 0.2
done
sleep 2
kill -TERM "$runner"
set +e
wait "$runner"
RC=$?
set -e
sleep 0.5
check "SIGTERM: QEMU was running (pid ${seen:-none})" test -n "$seen"
check "SIGTERM: runner exits 143 (got $RC)" test "$RC" -eq 143
check "SIGTERM: no QEMU left" no_qemu_left sigterm

# 4b. SIGKILL to the runner (no trap can run): QEMU dies with it (setpriv --pdeathsig).
mkdir -p "$E2E_TMP/sigkill/tmp"
TMPDIR="$E2E_TMP/sigkill/tmp" "$RUN_VM" --timeout 300 --script "$E2E_TMP/sleep.sh" \
  >"$E2E_TMP/sigkill/stdout" 2>"$E2E_TMP/sigkill/stderr" &
runner=$!
seen=""
for _ in $(seq 1 100); do
  seen="$(qemu_procs_with "$E2E_TMP/sigkill/")"
  [[ -n "$seen" ]] && break
  sleep 0.2
done
kill -KILL "$runner"
wait "$runner" 2>/dev/null || true
sleep 1
check "SIGKILL: QEMU was running (pid ${seen:-none})" test -n "$seen"
check "SIGKILL: no QEMU left" no_qemu_left sigkill

# 5. A guest kernel panic: no status, 125, QEMU gone.
cat >"$E2E_TMP/panic.sh" <<'GUEST'
#!/bin/sh
echo "crashing the guest"
echo c >/proc/sysrq-trigger
GUEST
run_case panic --timeout 120 --script "$E2E_TMP/panic.sh"
check "guest panic: runner returns 125 (got $RC)" test "$RC" -eq 125
check "guest panic: runner says no status was reported" has "$E2E_TMP/panic/stderr" "stopped without reporting the script.s status"
check "guest panic: the output shows the panic" has "$E2E_TMP/panic/stdout" "Kernel panic - not syncing: sysrq triggered crash"
check "guest panic: no QEMU left" no_qemu_left panic
e2e_done
