#!/usr/bin/env bash
# The project's VM "main job": boots the patched QEMU (TCG) with the stock-device set -- a virtio
# disk (vdb) and a zoned NVMe namespace (nvme0n1), both on raw files -- and shows what the guest
# sees: lsblk, lsblk -z and blkzone report. Later issues switch the disks to SEF-backed ones.
#
#   scripts/run_vm.sh [--shell] [--disks DIR] [--timeout SEC] [-- <extra qemu args>]
#
#   --shell         interactive: after the report, a root shell in the guest on this terminal
#                   (host root read-only at /, writable /tmp, shared folder /tmp/out); exit the
#                   shell to power off (Ctrl-A X kills QEMU)
#   --disks DIR     keep the raw backing files in DIR (reused if present; default: a temporary
#                   directory, removed afterwards)
#   --out DIR       host directory shared writable as /tmp/out in the guest
#   --timeout SEC   non-interactive time limit (default 300)
# The patched QEMU and the guest are built on first use and cached under ~/.cache/sef/.
set -euo pipefail
cd "$(dirname "$0")/.."

SHELL_MODE=0
DISKS=""
OUT=""
TIMEOUT=300
EXTRA=()
while [[ $# -gt 0 ]]; do
  case "$1" in
    --shell) SHELL_MODE=1; shift ;;
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

args=(--script "$TMP/report.sh")
[[ -n "$OUT" ]] && args+=(--out "$OUT")
if [[ $SHELL_MODE -eq 1 ]]; then
  args+=(--shell)
else
  args+=(--timeout "$TIMEOUT")
fi
set +e
tools/vm/run_vm.sh "${args[@]}" -- "${DEVS[@]}" "${EXTRA[@]+"${EXTRA[@]}"}"
rc=$?
exit "$rc"
