#!/usr/bin/env bash
# E2E: a zoned NVMe namespace on a raw file: lsblk -z shows host-managed with the expected zone
# size and count, blkzone report lists every zone with its write pointer (all empty before and
# some written after fio), and fio --zonemode=zbd --rw=randrw --direct=1 --bs=128k finishes with
# no error.
set -euo pipefail
source "$(dirname "$0")/lib.sh"

mapfile -t DEVS < <("$STOCK_DEVICES" --zns-size 256M --zone-size 16M "$E2E_TMP/disks")
cat >"$E2E_TMP/guest.sh" <<'GUEST'
#!/bin/bash
set -u
D=/dev/nvme0n1
echo "== lsblk -z"
lsblk -z -d -o NAME,ZONED,ZONE-SZ,ZONE-NR
# Zoned block devices need a zone-aware scheduler for queue depths > 1.
echo mq-deadline >/sys/block/nvme0n1/queue/scheduler
echo "== scheduler: $(cat /sys/block/nvme0n1/queue/scheduler)"
blkzone report "$D" >"$SEF_OUT/zones-before.txt"; echo "blkzone-before-status=$?"
fio --name=zbd --filename="$D" --zonemode=zbd --rw=randrw --direct=1 --bs=128k --size=64M \
    --ioengine=libaio --iodepth=4 --eta=never --output="$SEF_OUT/fio-zbd.txt"
echo "fio-zbd-status=$?"
blkzone report "$D" >"$SEF_OUT/zones-after.txt"; echo "blkzone-after-status=$?"
GUEST

run_guest "${DEVS[@]}"
O="$E2E_TMP/output.txt"
B="$E2E_TMP/out/zones-before.txt"
A="$E2E_TMP/out/zones-after.txt"
F="$E2E_TMP/out/fio-zbd.txt"
check "lsblk -z: nvme0n1 host-managed, 16M zones, 16 of them" has "$O" '^nvme0n1 +host-managed +16M +16$'
check "scheduler is mq-deadline" has "$O" '^== scheduler: .*\[mq-deadline\]'
check "blkzone report (before) exited 0" has "$O" '^blkzone-before-status=0$'
[[ -f "$B" ]] && { echo "  zones before (first 3):"; head -n3 "$B" | sed 's/^/  | /'; }

# Parse "start: 0x..., len 0x..., cap 0x..., wptr 0x... ... zcond: N(xx)" lines (512 B sectors).
zones_ok() { # FILE WANT_WRITTEN(0|1)
  awk -v want_written="$2" '
    /start: 0x[0-9a-f]+, len 0x[0-9a-f]+, cap 0x[0-9a-f]+, wptr 0x[0-9a-f]+/ {
      n++
      match($0, /start: 0x[0-9a-f]+/); start = strtonum_hex(substr($0, RSTART + 9, RLENGTH - 9))
      match($0, /len 0x[0-9a-f]+/);    len = strtonum_hex(substr($0, RSTART + 6, RLENGTH - 6))
      match($0, /wptr 0x[0-9a-f]+/);   wp = strtonum_hex(substr($0, RSTART + 7, RLENGTH - 7))
      if (len != 32768) { print "  zone " n ": len " len " sectors, want 32768 (16 MiB)"; bad++ }
      if (start != (n - 1) * 32768) { print "  zone " n ": start " start ", want " (n - 1) * 32768; bad++ }
      if (wp > len) { print "  zone " n ": wptr " wp " beyond the zone"; bad++ }
      if (wp > 0) written++
      if (!want_written && (wp != 0 || $0 !~ /zcond: *1\(em\)/)) { print "  zone " n " not empty before fio"; bad++ }
    }
    function strtonum_hex(s,   i, c, v) { v = 0; for (i = 1; i <= length(s); i++) { c = index("0123456789abcdef", substr(s, i, 1)) - 1; v = v * 16 + c }; return v }
    END {
      print "  " n + 0 " zones, " written + 0 " with a write pointer > 0"
      if (n != 16) { print "  want 16 zones"; bad++ }
      if (want_written && written == 0) { print "  no zone was written"; bad++ }
      exit bad > 0
    }' "$1"
}
check "blkzone report (before): 16 zones of 16 MiB, all empty, wptr 0" zones_ok "$B" 0
check "fio zbd randrw exited 0" has "$O" '^fio-zbd-status=0$'
[[ -f "$F" ]] && show "$F"
check "fio zbd: err= 0" has "$F" 'zbd: \(groupid=0, jobs=1\): err= 0:'
check "fio zbd: wrote data" has "$F" '^ +WRITE: bw=.*io=[1-9]'
check "fio zbd: read data" has "$F" '^ +READ: bw=.*io=[1-9]'
check "fio zbd: no I/O errors" lacks "$F" 'error=|I/O error|zbd.*failed'
check "blkzone report (after) exited 0" has "$O" '^blkzone-after-status=0$'
[[ -f "$A" ]] && { echo "  zones after (first 3):"; head -n3 "$A" | sed 's/^/  | /'; }
check "blkzone report (after): 16 zones, write pointers advanced" zones_ok "$A" 1
e2e_done
