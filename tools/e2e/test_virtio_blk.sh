#!/usr/bin/env bash
# E2E: a virtio disk on a raw file shows up in the guest as vdb and passes a fio randrw job with
# crc32c verification; a verify-only pass re-reads what was written, and after the disk is zeroed
# the same verify-only pass must fail (proving that verification really checks data).
set -euo pipefail
source "$(dirname "$0")/lib.sh"

mapfile -t DEVS < <("$STOCK_DEVICES" --virtio-size 256M "$E2E_TMP/disks")
cat >"$E2E_TMP/guest.sh" <<'GUEST'
#!/bin/bash
set -u
echo "== lsblk"
lsblk -b -d -o NAME,SIZE,TYPE,RO
echo "== serial vdb: $(cat /sys/block/vdb/serial 2>/dev/null)"
J=(--name=vrw --filename=/dev/vdb --rw=randrw --rwmixread=50 --bs=4k --size=48M --direct=1
   --ioengine=libaio --iodepth=8 --verify=crc32c --verify_fatal=1 --randseed=4242 --eta=never)
echo "== fio randrw+verify"
fio "${J[@]}" --do_verify=1 --output="$SEF_OUT/fio-randrw.txt"; echo "fio-randrw-status=$?"
echo "== fio verify-only"
fio "${J[@]}" --verify_only --output="$SEF_OUT/fio-verify.txt"; echo "fio-verify-status=$?"
echo "== zero the disk, verify-only again (must fail)"
dd if=/dev/zero of=/dev/vdb bs=1M count=48 oflag=direct status=none
fio "${J[@]}" --verify_only --output="$SEF_OUT/fio-corrupt.txt" 2>"$SEF_OUT/fio-corrupt.err"; echo "fio-corrupt-status=$?"
GUEST

run_guest "${DEVS[@]}"
O="$E2E_TMP/output.txt"
R="$E2E_TMP/out/fio-randrw.txt"
V="$E2E_TMP/out/fio-verify.txt"
C="$E2E_TMP/out/fio-corrupt.txt"
check "lsblk lists vdb as a 268435456-byte disk" has "$O" '^vdb +268435456 +disk +0$'
check "vdb is the sef-data disk" has "$O" '^== serial vdb: sef-data$'
check "fio randrw exited 0" has "$O" '^fio-randrw-status=0$'
[[ -f "$R" ]] && show "$R"
check "fio randrw: err= 0" has "$R" 'vrw: \(groupid=0, jobs=1\): err= 0:'
check "fio randrw: wrote data" has "$R" '^ +WRITE: bw=.*io=[1-9]'
check "fio randrw: read data" has "$R" '^ +READ: bw=.*io=[1-9]'
check "fio randrw: no verify errors" lacks "$R" 'verify:|bad magic|crc32c.*fail'
check "guest output: no verify or I/O errors" lacks "$O" "verify: |I/O error"
check "fio verify-only exited 0" has "$O" '^fio-verify-status=0$'
check "fio verify-only: err= 0 and read back data" has "$V" '^ +READ: bw=.*io=[1-9]'
check "fio verify-only: no verify errors" lacks "$V" 'verify:|bad magic|err=[ ]*[1-9]'
check "fio verify-only on the zeroed disk failed" has "$O" '^fio-corrupt-status=[1-9]'
check "fio verify-only on the zeroed disk reported bad data" has "$E2E_TMP/out/fio-corrupt.err" "verify: bad magic header"
check "fio verify-only on the zeroed disk: err= non-zero" has "$C" "vrw: \\(groupid=0, jobs=1\\): err=[ ]*[1-9]"
e2e_done
