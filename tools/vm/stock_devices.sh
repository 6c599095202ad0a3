#!/usr/bin/env bash
# Creates the raw backing files of the stock-device set in DIR and prints the matching QEMU
# arguments, one per line (read them with: mapfile -t args < <(tools/vm/stock_devices.sh DIR)).
#
#   tools/vm/stock_devices.sh [--virtio-size SIZE] [--zns-size SIZE] [--zone-size SIZE] DIR
#
# The set is shaped like the SEF devices to come:
#   vda      8 MiB virtio disk, serial sef-scratch (stands in for a system disk, so the data disk
#            is always vdb)
#   vdb      virtio disk on DIR/virtio.raw (default 256M), serial sef-data
#   nvme0n1  zoned NVMe namespace (ZNS) on DIR/zns.raw (default 256M, zone size 16M, 4 KiB
#            blocks), controller serial sefzns0
# Sizes take truncate(1) suffixes (K, M, G). Existing backing files are reused as they are.
set -euo pipefail

VIRTIO_SIZE=256M
ZNS_SIZE=256M
ZONE_SIZE=16M
DIR=""
while [[ $# -gt 0 ]]; do
  case "$1" in
    -h|--help) sed -n '2,/^set -euo/p' "$0" | sed '$d; s/^# \{0,1\}//'; exit 0 ;;
    --virtio-size) VIRTIO_SIZE="$2"; shift 2 ;;
    --zns-size) ZNS_SIZE="$2"; shift 2 ;;
    --zone-size) ZONE_SIZE="$2"; shift 2 ;;
    -*) echo "stock_devices.sh: unknown argument '$1'" >&2; exit 2 ;;
    *) [[ -z "$DIR" ]] || { echo "stock_devices.sh: one DIR only" >&2; exit 2; }; DIR="$1"; shift ;;
  esac
done
[[ -n "$DIR" ]] || { echo "usage: stock_devices.sh [--virtio-size S] [--zns-size S] [--zone-size S] DIR" >&2; exit 2; }
mkdir -p "$DIR"
DIR="$(cd "$DIR" && pwd)"

zone_bytes="$(numfmt --from=iec "$ZONE_SIZE")"
if (( zone_bytes <= 0 || (zone_bytes & (zone_bytes - 1)) != 0 )); then
  echo "stock_devices.sh: the zone size must be a power of two (Linux requires it): $ZONE_SIZE" >&2
  exit 2
fi

[[ -f "$DIR/scratch.raw" ]] || truncate -s 8M "$DIR/scratch.raw"
[[ -f "$DIR/virtio.raw" ]] || truncate -s "$VIRTIO_SIZE" "$DIR/virtio.raw"
[[ -f "$DIR/zns.raw" ]] || truncate -s "$ZNS_SIZE" "$DIR/zns.raw"

cat <<EOF
-drive
file=$DIR/scratch.raw,if=none,id=scratch,format=raw
-device
virtio-blk-pci,drive=scratch,serial=sef-scratch
-drive
file=$DIR/virtio.raw,if=none,id=data,format=raw
-device
virtio-blk-pci,drive=data,serial=sef-data
-device
nvme,id=nvme0,serial=sefzns0
-drive
file=$DIR/zns.raw,if=none,id=zns0,format=raw
-device
nvme-ns,drive=zns0,bus=nvme0,nsid=1,zoned=true,zoned.zone_size=$ZONE_SIZE,logical_block_size=4096,physical_block_size=4096
EOF
