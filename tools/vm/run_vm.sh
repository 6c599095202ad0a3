#!/usr/bin/env bash
# Boots a test VM (TCG) with the project-built QEMU and the cached guest, runs a script inside it
# and returns the script's exit status; the script's output (stdout+stderr, from the serial
# console) goes to stdout.
#
#   tools/vm/run_vm.sh [options] --script FILE [-- <extra qemu args>]
#   tools/vm/run_vm.sh [options] --shell [--script FILE] [-- <extra qemu args>]
#
# In the guest the script runs as root, chrooted into the host's root file system (mounted
# read-only over 9p, so the host's fio, lsblk, blkzone, nvme-cli ... are there), in /tmp (a
# tmpfs), with SEF_OUT=/tmp/out: a writable 9p share backed by --out DIR on the host (default: a
# temporary directory, removed afterwards). Extra QEMU arguments (devices and their backends)
# follow "--".
#
# Options:
#   --script FILE     script to run in the guest (any interpreter the host root has; #! honoured)
#   --shell           interactive: QEMU on this terminal, a shell after the script (no timeout
#                     unless --timeout is given); exit the shell to power off
#   --timeout SEC     kill QEMU after SEC seconds and return 124 (default 600; 0 = none)
#   --out DIR         host directory shared writable as /tmp/out in the guest (created if missing)
#   --qemu PATH       qemu-system-x86_64 to use (default $SEF_QEMU, else tools/qemu/build_qemu.sh)
#   --guest DIR       guest kernel+initrd directory (default $SEF_GUEST_DIR, else
#                     tools/vm/build_guest.sh)
#   --env KEY=VALUE   environment variable for the script (repeatable)
#   --modules LIST    extra guest modules to load at boot, comma-separated (zonefs,f2fs,btrfs,
#                     null_blk,dm-zoned)
#   --mem MB / --smp N  guest memory and vCPUs (default 1024 / 2; env SEF_VM_MEM / SEF_VM_SMP)
#   --console FILE    also keep the whole serial console log in FILE
#   -v, --verbose     stream the whole console (kernel and init messages) to stderr while running
#                     (also when SEF_VM_VERBOSE=1)
#
# Exit status: the script's; 124 on timeout; 125 if the guest stopped without reporting a status
# (kernel panic, QEMU error, bad arguments to QEMU; the console tail is printed to stderr); 2 on
# usage errors. QEMU is always killed when this script exits, however it exits.
set -euo pipefail

HERE="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
REPO_ROOT="$(cd "$HERE/../.." && pwd)"

SCRIPT=""
SHELL_MODE=0
TIMEOUT=""
OUT_DIR=""
QEMU="${SEF_QEMU:-}"
GUEST="${SEF_GUEST_DIR:-}"
ENVS=()
MODULES=""
MEM="${SEF_VM_MEM:-1024}"
SMP="${SEF_VM_SMP:-2}"
CONSOLE_COPY=""
VERBOSE="${SEF_VM_VERBOSE:-0}"
QEMU_EXTRA=()

usage() { sed -n '2,/^set -euo/p' "$0" | sed '$d; s/^# \{0,1\}//'; }
bad() { echo "run_vm.sh: $*" >&2; exit 2; }

while [[ $# -gt 0 ]]; do
  case "$1" in
    --script) [[ $# -ge 2 ]] || bad "--script needs a file"; SCRIPT="$2"; shift 2 ;;
    --shell) SHELL_MODE=1; shift ;;
    --timeout) [[ "${2:-}" =~ ^[0-9]+$ ]] || bad "--timeout needs seconds"; TIMEOUT="$2"; shift 2 ;;
    --out) [[ $# -ge 2 ]] || bad "--out needs a directory"; OUT_DIR="$2"; shift 2 ;;
    --qemu) [[ $# -ge 2 ]] || bad "--qemu needs a path"; QEMU="$2"; shift 2 ;;
    --guest) [[ $# -ge 2 ]] || bad "--guest needs a directory"; GUEST="$2"; shift 2 ;;
    --env) [[ "${2:-}" =~ ^[A-Za-z_][A-Za-z0-9_]*= ]] || bad "--env needs KEY=VALUE"; ENVS+=("$2"); shift 2 ;;
    --modules) [[ "${2:-}" =~ ^[A-Za-z0-9_,-]+$ ]] || bad "--modules needs a comma-separated list"; MODULES="$2"; shift 2 ;;
    --mem) MEM="$2"; shift 2 ;;
    --smp) SMP="$2"; shift 2 ;;
    --console) CONSOLE_COPY="$2"; shift 2 ;;
    -v|--verbose) VERBOSE=1; shift ;;
    -h|--help) usage; exit 0 ;;
    --) shift; QEMU_EXTRA=("$@"); break ;;
    *) bad "unknown argument '$1' (see --help)" ;;
  esac
done
[[ -n "$SCRIPT" || $SHELL_MODE -eq 1 ]] || bad "give --script FILE or --shell (see --help)"
[[ -z "$SCRIPT" || -f "$SCRIPT" ]] || bad "no such script: $SCRIPT"
if [[ -z "$TIMEOUT" ]]; then
  if [[ $SHELL_MODE -eq 1 ]]; then TIMEOUT=0; else TIMEOUT=600; fi
fi

if [[ -z "$QEMU" ]]; then
  QEMU="$("$REPO_ROOT/tools/qemu/build_qemu.sh" | tail -n1)" || { echo "run_vm.sh: building QEMU failed" >&2; exit 125; }
fi
[[ -x "$QEMU" ]] || bad "not an executable: $QEMU"
if [[ -z "$GUEST" ]]; then
  GUEST="$("$HERE/build_guest.sh" | tail -n1)" || { echo "run_vm.sh: building the guest failed" >&2; exit 125; }
fi
[[ -f "$GUEST/vmlinuz" && -f "$GUEST/initrd.gz" ]] || bad "no vmlinuz/initrd.gz in $GUEST"

WORK="$(mktemp -d "${TMPDIR:-/tmp}/sef-vm.XXXXXX")"
QEMU_PID=""
TAIL_PID=""
cleanup() {
  local pid="$QEMU_PID"
  if [[ -n "$pid" ]] && kill -0 "$pid" 2>/dev/null; then
    kill -TERM "$pid" 2>/dev/null || true
    for _ in 1 2 3 4 5 6 7 8 9 10; do kill -0 "$pid" 2>/dev/null || break; sleep 0.2; done
    kill -KILL "$pid" 2>/dev/null || true
    wait "$pid" 2>/dev/null || true
  fi
  if [[ -n "$TAIL_PID" ]]; then kill "$TAIL_PID" 2>/dev/null || true; wait "$TAIL_PID" 2>/dev/null || true; fi
  rm -rf "$WORK"
}
trap cleanup EXIT
trap 'exit 130' INT
trap 'exit 143' TERM
trap 'exit 129' HUP

if [[ -z "$OUT_DIR" ]]; then
  OUT_DIR="$WORK/out"
fi
mkdir -p "$OUT_DIR"
OUT_DIR="$(cd "$OUT_DIR" && pwd)"

# The script (and its environment) travel as a second cpio archive appended to the initramfs;
# the kernel unpacks both.
mkdir -p "$WORK/extra/sef"
[[ -n "$SCRIPT" ]] && install -m 0755 "$SCRIPT" "$WORK/extra/sef/script"
: >"$WORK/extra/sef/env"
for e in "${ENVS[@]+"${ENVS[@]}"}"; do printf '%s=%q\n' "${e%%=*}" "${e#*=}" >>"$WORK/extra/sef/env"; done
(cd "$WORK/extra" && find sef | cpio -o -H newc --quiet -R 0:0 | gzip -1) >"$WORK/extra.cpio.gz"
cat "$GUEST/initrd.gz" "$WORK/extra.cpio.gz" >"$WORK/initrd.gz"

MODE=script
[[ $SHELL_MODE -eq 1 ]] && MODE=shell
# no_timer_check: under TCG on a loaded host the kernel's early check that the IO-APIC timer
# ticks can time out and panic ("IO-APIC + timer doesn't work"); seen in CI-like runs at load 15.
APPEND="console=ttyS0,115200 no_timer_check quiet loglevel=3 panic=-1 random.trust_cpu=on sef.mode=$MODE sef.out=1"
[[ -n "$MODULES" ]] && APPEND+=" sef.modules=$MODULES"

# shellcheck disable=SC2054 # commas are QEMU option syntax
QEMU_ARGS=(
  -accel tcg -machine q35 -cpu max -smp "$SMP" -m "$MEM"
  -nodefaults -no-user-config -no-reboot -display none
  -L /usr/share/seabios -L /usr/share/qemu
  -kernel "$GUEST/vmlinuz" -initrd "$WORK/initrd.gz" -append "$APPEND"
  -fsdev local,id=hostroot,path=/,security_model=none,readonly=on,multidevs=remap
  -device virtio-9p-pci,fsdev=hostroot,mount_tag=hostroot
  -fsdev "local,id=sefout,path=$OUT_DIR,security_model=none,multidevs=remap"
  -device virtio-9p-pci,fsdev=sefout,mount_tag=sefout
)

if [[ $SHELL_MODE -eq 1 ]]; then
  # Interactive: the console is this terminal (Ctrl-A X quits QEMU, Ctrl-A H for help).
  QEMU_ARGS+=(-serial mon:stdio)
  if [[ -n "$CONSOLE_COPY" ]]; then
    echo "run_vm.sh: --console is ignored with --shell" >&2
  fi
  set +e
  if [[ $TIMEOUT -gt 0 ]]; then
    timeout --foreground --kill-after=5 "$TIMEOUT" setpriv --pdeathsig KILL -- "$QEMU" "${QEMU_ARGS[@]}" "${QEMU_EXTRA[@]+"${QEMU_EXTRA[@]}"}"
  else
    setpriv --pdeathsig KILL -- "$QEMU" "${QEMU_ARGS[@]}" "${QEMU_EXTRA[@]+"${QEMU_EXTRA[@]}"}"
  fi
  rc=$?
  set -e
  exit "$rc"
fi

CONSOLE="$WORK/console.log"
: >"$CONSOLE"
QEMU_ARGS+=(-chardev "file,id=con,path=$CONSOLE" -serial chardev:con -monitor none)

# setpriv --pdeathsig: QEMU also dies if this script is killed with SIGKILL (no trap runs then).
setpriv --pdeathsig KILL -- "$QEMU" "${QEMU_ARGS[@]}" "${QEMU_EXTRA[@]+"${QEMU_EXTRA[@]}"}" </dev/null >"$WORK/qemu.out" 2>&1 &
QEMU_PID=$!
if [[ $VERBOSE == 1 ]]; then
  tail -n +1 -f --pid="$QEMU_PID" "$CONSOLE" | tr -d '\r' >&2 &
  TAIL_PID=$!
fi

timed_out=0
start=$SECONDS
while kill -0 "$QEMU_PID" 2>/dev/null; do
  if [[ $TIMEOUT -gt 0 && $((SECONDS - start)) -ge $TIMEOUT ]]; then
    timed_out=1
    break
  fi
  sleep 0.25
done
if [[ $timed_out -eq 1 ]]; then
  cleanup_pid="$QEMU_PID"
  kill -TERM "$cleanup_pid" 2>/dev/null || true
  for _ in 1 2 3 4 5 6 7 8 9 10; do kill -0 "$cleanup_pid" 2>/dev/null || break; sleep 0.2; done
  kill -KILL "$cleanup_pid" 2>/dev/null || true
fi
set +e
wait "$QEMU_PID"
qemu_rc=$?
set -e
QEMU_PID=""
if [[ -n "$TAIL_PID" ]]; then sleep 0.3; kill "$TAIL_PID" 2>/dev/null || true; wait "$TAIL_PID" 2>/dev/null || true; TAIL_PID=""; fi

tr -d '\r' <"$CONSOLE" >"$WORK/console.txt"
[[ -n "$CONSOLE_COPY" ]] && cp "$WORK/console.txt" "$CONSOLE_COPY"

# The script's output: the lines between the markers.
awk '/^SEF-VM-EXIT=[0-9]+$/ { inside = 0 } inside { print } /^SEF-VM-BEGIN$/ { inside = 1 }' "$WORK/console.txt"
status_line="$(grep -E '^SEF-VM-EXIT=[0-9]+$' "$WORK/console.txt" | tail -n1 || true)"

if [[ $timed_out -eq 1 ]]; then
  echo "run_vm.sh: TIMEOUT after ${TIMEOUT}s: QEMU killed (console: last 20 lines follow)" >&2
  tail -n 20 "$WORK/console.txt" | sed 's/^/  | /' >&2
  exit 124
fi
if [[ -z "$status_line" ]]; then
  echo "run_vm.sh: the guest stopped without reporting the script's status (QEMU exit $qemu_rc)" >&2
  echo "run_vm.sh: QEMU output:" >&2
  tail -n 20 "$WORK/qemu.out" | sed 's/^/  | /' >&2
  echo "run_vm.sh: console (last 30 lines):" >&2
  tail -n 30 "$WORK/console.txt" | sed 's/^/  | /' >&2
  exit 125
fi
exit "${status_line#SEF-VM-EXIT=}"
