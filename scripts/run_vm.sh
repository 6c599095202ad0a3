#!/usr/bin/env bash
# The project's main job: boots a Linux guest (TCG) on the patched QEMU with the seed's SEF
# devices on the embedded default unit (unit 0, docs/qemu-devices.md; its data persists in
# ${SEF_DATA_DIR:-~/.local/share/sef}/unit0.sef) and shows, from inside the guest, lsblk,
# lsblk -z, the head of blkzone report and a short fio run on each device. The three devices,
# each on its own QoS domain (one domain holds one device):
#   -drive driver=sef-aio,file=0:1,cache=none,if=virtio        virtual disk, block FTL (vda)
#   -device nvme-ns,drive=...,nsid=1,sef=true                   NVM namespace, block FTL,
#                                                               domain 2 (the default; nvme0n1)
#   -device nvme-ns,drive=...,nsid=1,sef=true,zoned=true,sef_qos_domain=3   ZNS (nvme1n1)
# (the seed puts sef-aio on domain 3 in its own VM; here the ZNS namespace has it). On a fresh
# machine it first installs what is missing, builds the bridge library, QEMU and the guest
# (cached under ~/.cache/sef/).
#
#   scripts/run_vm.sh [--controller [--unit FILE] [--backing FILE]] [--stock] [--shell]
#                     [--timeout SEC] [--out DIR] [-- <extra qemu args>]
#
#   --controller    the emulated SEF unit instead: the software device model behind QEMU's
#                   NVMe controller (-device nvme,sef.unit=...; docs/qemu-sef-controller.md),
#                   and sef_hal_probe /dev/nvme0 inside the guest
#   --unit FILE     with --controller: unit configuration (default testdata/units/default.json)
#   --backing FILE  with --controller: keep the unit's data and state in FILE (default: RAM)
#   --shell         interactive: after the report, a root shell in the guest on this terminal
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
CONTROLLER=0
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
    --controller) CONTROLLER=1; shift ;;
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
# write_block_report [N [ZONED-DEV]]: the guest script's start: lsblk, lsblk -z and blkzone
# report of ZONED-DEV (default nvme0n1; its first N lines).
write_block_report() {
  local z="${2:-nvme0n1}"
  cat >"$TMP/report.sh" <<EOF
#!/bin/bash
echo "== lsblk"
lsblk
echo
echo "== lsblk -z"
lsblk -z
echo
echo "== blkzone report /dev/$z${1:+ | head -$1}"
blkzone report /dev/$z${1:+ | head -$1}
EOF
}
if [[ $STOCK -eq 1 ]]; then
  [[ -n "$DISKS" ]] || DISKS="$TMP/disks"
  devs="$(tools/vm/stock_devices.sh "$DISKS")"
  mapfile -t DEVS <<<"$devs"
  write_block_report
elif [[ $CONTROLLER -eq 0 ]]; then
  echo "[main] building QEMU and the bridge it links (cached after the first run)..." >&2
  QEMU="$(tools/qemu/build_qemu.sh | tail -n1)"
  RUNNER_ARGS=(--qemu "$QEMU")
  echo "[main] the seed's three devices on unit 0: sef-aio on QoS domain 1 (vda), nvme-ns sef=true on domain 2 (nvme0n1), nvme-ns sef=true,zoned=true on domain 3 (nvme1n1)" >&2
  : >"$TMP/nvme2.raw" # the seed's backing files: required by nvme-ns, unused
  : >"$TMP/nvme3.raw"
  # shellcheck disable=SC2054 # commas inside QEMU option strings
  DEVS=(-drive driver=sef-aio,file=0:1,cache=none,if=virtio
        -drive "if=none,id=nvme1,file=$TMP/nvme2.raw,format=raw" -device nvme,id=nvme-a,serial=123456
        -device nvme-ns,bus=nvme-a,drive=nvme1,nsid=1,sef=true
        -drive "if=none,id=nvme2,file=$TMP/nvme3.raw,format=raw" -device nvme,id=nvme-b,serial=654321
        -device nvme-ns,bus=nvme-b,drive=nvme2,nsid=1,sef=true,zoned=true,sef_qos_domain=3)
  write_block_report 4 nvme1n1
  cat >>"$TMP/report.sh" <<'EOF'
for d in vda nvme0n1; do
  echo
  echo "== fio: the seed's randrw on /dev/$d (libaio, 32M, direct)"
  fio --ioengine=libaio --filename=/dev/$d --name=rw --rw=randrw --size=32M --direct=1 \
      --eta=never | grep -E 'err=|READ:|WRITE:'
done
echo
echo mq-deadline >/sys/block/nvme1n1/queue/scheduler
echo "== fio: the seed's zbd randrw job on /dev/nvme1n1, 32M instead of 8G"
fio --aux-path=/tmp --allow_file_create=0 --name=job1 --filename=/dev/nvme1n1 --rw=randrw \
    --direct=1 --zonemode=zbd --bs=128k --size=32M --eta=never | grep -E 'err=|READ:|WRITE:|zone reset'
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
