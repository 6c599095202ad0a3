#!/usr/bin/env bash
# The project's main job: boots a Linux guest (TCG) on the patched QEMU with an emulated SEF
# unit -- the software SEF device model behind QEMU's NVMe controller (-device nvme,sef.unit=...;
# docs/qemu-sef-controller.md) -- and runs sef_hal_probe /dev/nvme0 inside it, so you see the
# unit as the guest's stock NVMe driver presents it. On a fresh machine it first installs what
# is missing, builds the bridge library, QEMU and the guest (cached under ~/.cache/sef/).
#
#   scripts/run_vm.sh [--unit FILE] [--backing FILE] [--shell] [--stock] [--timeout SEC]
#                     [--out DIR] [-- <extra qemu args>]
#
#   --unit FILE     unit configuration (default testdata/units/default.json)
#   --backing FILE  keep the unit's data and state in FILE across runs (default: RAM)
#   --shell         interactive: after the probe, a root shell in the guest on this terminal
#                   (host root read-only at /, writable /tmp, shared folder /tmp/out); exit
#                   the shell to power off (Ctrl-A X kills QEMU)
#   --stock         the stock-device set instead (a virtio disk and a zoned NVMe namespace on
#                   raw files): lsblk, lsblk -z and blkzone report
#   --disks DIR     with --stock: keep the raw backing files in DIR
#   --out DIR       host directory shared writable as /tmp/out in the guest
#   --timeout SEC   non-interactive time limit (default 300)
set -euo pipefail
cd "$(dirname "$0")/.."

SHELL_MODE=0
STOCK=0
UNIT_FILE="testdata/units/default.json"
BACKING=""
DISKS=""
OUT=""
TIMEOUT=300
EXTRA=()
while [[ $# -gt 0 ]]; do
  case "$1" in
    --shell) SHELL_MODE=1; shift ;;
    --stock) STOCK=1; shift ;;
    --unit) UNIT_FILE="$2"; shift 2 ;;
    --backing) BACKING="$2"; shift 2 ;;
    --disks) DISKS="$2"; shift 2 ;;
    --out) OUT="$2"; shift 2 ;;
    --timeout) TIMEOUT="$2"; shift 2 ;;
    -h|--help) sed -n '2,/^set -euo/p' "$0" | sed '$d; s/^# \{0,1\}//'; exit 0 ;;
    --) shift; EXTRA=("$@"); break ;;
    *) echo "run_vm.sh: unknown argument '$1' (see --help)" >&2; exit 2 ;;
  esac
done

# One command on a fresh machine: install whatever is missing first (idempotent, ~1 s when
# everything is there).
scripts/setup.sh --with-qemu

TMP="$(mktemp -d "${TMPDIR:-/tmp}/sef-main-vm.XXXXXX")"
trap 'rm -rf "$TMP"' EXIT
RUNNER_ARGS=()
if [[ $STOCK -eq 1 ]]; then
  [[ -n "$DISKS" ]] || DISKS="$TMP/disks"
  devs="$(tools/vm/stock_devices.sh "$DISKS")"
  mapfile -t DEVS <<<"$devs"
  cat >"$TMP/report.sh" <<'EOF'
#!/bin/bash
echo "== lsblk"
lsblk
echo
echo "== lsblk -z"
lsblk -z
echo
echo "== blkzone report /dev/nvme0n1"
blkzone report /dev/nvme0n1
EOF
else
  [[ -f "$UNIT_FILE" ]] || { echo "run_vm.sh: unit configuration '$UNIT_FILE' not found" >&2; exit 2; }
  UNIT_PATH="$(realpath "$UNIT_FILE")"
  echo "[main] building QEMU and the bridge it links (cached after the first run)..." >&2
  QEMU="$(tools/qemu/build_qemu.sh | tail -n1)"
  echo "[main] building sef_hal_probe..." >&2
  bazel build //tools/sef_hal_probe >"$TMP/bazel.log" 2>&1 || { tail -n 30 "$TMP/bazel.log" >&2; exit 1; }
  PROBE="$(bazel info bazel-bin 2>/dev/null)/tools/sef_hal_probe/sef_hal_probe"
  # QoS domains are presented as NVM namespaces: Linux 6.1 refuses metadata on CSI 0x30 ones.
  spec="model:$UNIT_PATH"
  [[ -n "$BACKING" ]] && spec+=":$(realpath -m "$BACKING")"
  dev="nvme,serial=sef0,sef.unit=$spec,sef.ns_csi=nvm"
  DEVS=(-device "$dev")
  RUNNER_ARGS=(--qemu "$QEMU")
  cat >"$TMP/report.sh" <<EOF
#!/bin/bash
echo "== nvme list"
nvme list 2>/dev/null || true
echo
echo "== sef_hal_probe /dev/nvme0"
"$PROBE" /dev/nvme0
EOF
fi

args=(--script "$TMP/report.sh")
[[ -n "$OUT" ]] && args+=(--out "$OUT")
if [[ $SHELL_MODE -eq 1 ]]; then
  args+=(--shell)
else
  args+=(--timeout "$TIMEOUT")
fi
set +e
tools/vm/run_vm.sh "${args[@]}" "${RUNNER_ARGS[@]+"${RUNNER_ARGS[@]}"}" -- "${DEVS[@]}" \
  "${EXTRA[@]+"${EXTRA[@]}"}"
rc=$?
exit "$rc"
