#!/usr/bin/env bash
# E2E: the seed's two block devices on the block FTL (docs/qemu-devices.md), spelled as in the
# seed, in ONE VM on the embedded default unit (unit 0) in a temporary SEF_DATA_DIR:
#   -drive driver=sef-aio,file=0:3,cache=none,if=virtio   (vda: the test VM boots from 9p, so
#                                                         the seed's vdb is the first virtio disk)
#   -drive if=none,id=nvme1,file=nvme2.raw,format=raw -device nvme,serial=123456
#   -device nvme-ns,drive=nvme1,nsid=1,sef=true                               (nvme0n1, domain 2)
#
# Host (no guest, seconds): malformed options make QEMU exit 1 at start with one line: file=abc,
# file=0:, an unknown unit, a missing domain, a domain of the other kind (domain 4 formatted as
# a ZNS domain by a QEMU that quits at once; and, after boot 1, a ZNS namespace on the block
# domain 2), and while boot 2 runs, a second QEMU on the unit in use.
# Boot 1: both devices have the size the block FTL exports (read from libsefbridge on the host
# after the boot); fio randrw with verify=crc32c on each; a known pattern at 512 MiB, then a
# trim (nvme0n1: blkdiscard, DSM deallocate) or write-zeroes (vda: blkdiscard -z, the FTL's
# Write Zeroes) of its second MiB, flushed.
# Boot 2 (restart): the pattern and the zeros are back; then a workload writes 256 KiB blocks
# to both devices, each followed by a flush (dd conv=fdatasync), and prints "flushed N"; the
# host kill -9s QEMU after a few.
# Boot 3: every block flushed before the kill reads back on both devices, and boot 1's data too.
set -euo pipefail
source "$(dirname "$0")/lib.sh"
T0=$SECONDS

QEMU="${SEF_QEMU:-$("$REPO_ROOT/tools/qemu/build_qemu.sh" 2>"$E2E_TMP/qemu.err" | tail -n1)}" \
  || { tail -n 40 "$E2E_TMP/qemu.err"; fail "build_qemu.sh"; e2e_done; }
echo "  qemu $QEMU"

printf '{"discover": false}\n' >"$E2E_TMP/units.json"
export SEF_UNITS_FILE="$E2E_TMP/units.json" SEF_DATA_DIR="$E2E_TMP/data"
: >"$E2E_TMP/nvme2.raw" # the seed's (unused) backing file, zero-sized
: >"$E2E_TMP/other.raw" # the same for QEMUs that must not start (QEMU locks image files)
SEED_AIO="driver=sef-aio,file=0:3,cache=none,if=virtio"
# shellcheck disable=SC2054 # commas inside QEMU option strings
ARGS=(-drive "$SEED_AIO"
  -drive "if=none,id=nvme1,file=$E2E_TMP/nvme2.raw,format=raw"
  -device nvme,serial=123456 -device nvme-ns,drive=nvme1,nsid=1,sef=true)

# --- host checks: start-up errors ---------------------------------------------------------------
start_error() { qemu_start_error "$QEMU" "$@"; } # NAME EXPECTED-ERE QEMU-ARGS...
aio_error() { # NAME EXPECTED-ERE SEF-AIO-OPTIONS: a sef-aio drive that must not start
  start_error "$1" "$2" -drive "driver=sef-aio,$3,cache=none,if=virtio"
}
aio_error file-abc "sef-aio: file=abc: expected <unit>:<domain>" file=abc
aio_error file-0-colon "sef-aio: file=0:: no QoS domain after the ':'" file=0:
aio_error unknown-unit "unit 7: no such SEF unit" file=7:3
aio_error missing-domain "unit 0 .*QoS domain 9: no such QoS domain" file=0:9
aio_error domain-not-a-number "QoS domain 'x' is not a number" file=0:x
aio_error dotted-disagree "file=0:3 and sef.qos_domain=2 disagree" file=0:3,sef.qos_domain=2
start_error ns-missing-domain "unit 0 .*QoS domain 9" \
  -drive "if=none,id=nvme1,file=$E2E_TMP/other.raw,format=raw" -device nvme,serial=1 \
  -device nvme-ns,drive=nvme1,nsid=1,sef=true,sef_qos_domain=9
# Domain 4 becomes a ZNS domain (a QEMU that starts, formats it and quits), then is refused.
rc=0
echo quit | timeout 60 "$QEMU" -nodefaults -display none -machine q35 -accel tcg -S -monitor stdio \
  -L /usr/share/seabios -L /usr/share/qemu \
  -drive "if=none,id=z,file=$E2E_TMP/other.raw,format=raw" -device nvme,serial=2 \
  -device nvme-ns,drive=z,nsid=1,sef=true,zoned=true,sef.qos_domain=4 >"$E2E_TMP/zns4.out" 2>&1 || rc=$?
check "a ZNS namespace formats domain 4 (QEMU quit, rc $rc)" test "$rc" -eq 0
aio_error other-kind "unit 0.*QoS domain 4 holds a zoned \(ZNS\) domain" sef.unit=0,sef.qos_domain=4

# --- boot 1: sizes, fio with verify, a pattern, a trim and zeroes -------------------------------
cat >"$E2E_TMP/guest.sh" <<'GUEST'
#!/bin/bash
set -u
echo "== lsblk"; lsblk
for d in vda nvme0n1; do
  echo "size $d $(blockdev --getsize64 /dev/$d) $(cat /sys/block/$d/queue/logical_block_size)"
done
echo "vwc nvme0n1 $(cat /sys/block/nvme0n1/queue/write_cache)"
for d in vda nvme0n1; do
  fio --name=v-$d --filename=/dev/$d --ioengine=libaio --direct=1 --rw=randrw --bs=4k,64k \
      --iodepth=8 --size=32M --verify=crc32c --do_verify=1 --eta=never --output="$SEF_OUT/fio-$d.txt"
  echo "fio-$d-status=$?"
done
yes "sef block pattern" | head -c 4194304 >/tmp/pattern
for d in vda nvme0n1; do
  dd if=/tmp/pattern of=/dev/$d bs=1M seek=512 count=4 oflag=direct conv=fdatasync status=none
  echo "pattern-$d-status=$?"
done
blkdiscard -z -o $((513 << 20)) -l $((1 << 20)) /dev/vda; echo "zeroes-vda-status=$?"
blkdiscard -o $((513 << 20)) -l $((1 << 20)) /dev/nvme0n1; echo "trim-nvme0n1-status=$?"
for d in vda nvme0n1; do
  sync -f /dev/$d 2>/dev/null; blockdev --flushbufs /dev/$d; echo "flush-$d-status=$?"
done
GUEST
run_guest "${ARGS[@]}"
O="$E2E_TMP/output.txt"
BRIDGE_LIB="$(ldd "$QEMU" | sed -nE 's/.*=> (.*libsefbridge\.so) .*/\1/p')"
# What the block FTL exports on domains 2 and 3 (blocks of 4096), asked of the library.
exported() {
  python3 - "$BRIDGE_LIB" "$1" <<'PY'
import ctypes, sys
lib = ctypes.CDLL(sys.argv[1])
class Opts(ctypes.Structure):
    _fields_ = [("kind", ctypes.c_uint32), ("domain", ctypes.c_uint32), ("user", ctypes.c_char_p),
                ("zone_size", ctypes.c_uint64), ("mo", ctypes.c_uint32), ("ma", ctypes.c_uint32),
                ("rsvd", ctypes.c_uint32 * 8)]
o = Opts(kind=1, domain=int(sys.argv[2]), user=b"test_sef_block")
d = ctypes.c_void_p()
err = ctypes.create_string_buffer(512)
if lib.sef_bridge_disk_open(b"0", ctypes.byref(o), ctypes.byref(d), err, 512) != 0:
    sys.exit("open: " + err.value.decode())
info = ctypes.create_string_buffer(256)
lib.sef_bridge_disk_get_info(d, info)
print(int.from_bytes(info.raw[16:24], "little") * 4096)
lib.sef_bridge_disk_close(d)
PY
}
size3="$(exported 3 || true)"
size2="$(exported 2 || true)"
echo "  exported: domain 3 $size3 bytes, domain 2 $size2 bytes"
check "vda (sef-aio, domain 3): the size the FTL exports, 4096-byte blocks" has "$O" "^size vda $size3 4096\$"
check "nvme0n1 (nvme-ns sef=true, domain 2): the size the FTL exports, 4096-byte blocks" \
  has "$O" "^size nvme0n1 $size2 4096\$"
check "nvme0n1: a volatile write cache (the unit's)" has "$O" '^vwc nvme0n1 write back$'
for d in vda nvme0n1; do
  check "$d: fio randrw with verify=crc32c: exit 0, err= 0" \
    bash -c "grep -q '^fio-$d-status=0$' '$O' && grep -q 'err= 0' '$E2E_TMP/out/fio-$d.txt'"
  check "$d: pattern written and flushed" has "$O" "^pattern-$d-status=0\$"
  check "$d: flushed" has "$O" "^flush-$d-status=0\$"
done
[[ -f "$E2E_TMP/out/fio-vda.txt" ]] && show "$E2E_TMP/out/fio-vda.txt"
check "vda: write zeroes (blkdiscard -z)" has "$O" '^zeroes-vda-status=0$'
check "nvme0n1: trim (blkdiscard)" has "$O" '^trim-nvme0n1-status=0$'
# Domain 2 now holds a block FTL: a ZNS namespace on it is refused.
start_error other-kind-ns "unit 0.*QoS domain 2: it holds a block FTL domain" \
  -drive "if=none,id=nvme1,file=$E2E_TMP/other.raw,format=raw" -device nvme,serial=1 \
  -device nvme-ns,drive=nvme1,nsid=1,sef=true,zoned=true

# --- boot 2: restart; then writes and flushes until kill -9 -------------------------------------
cat >"$E2E_TMP/guest2.sh" <<'GUEST'
#!/bin/bash
set -u
yes "sef block pattern" | head -c 4194304 >/tmp/pattern
head -c 1048576 /dev/zero >/tmp/zeros
for d in vda nvme0n1; do
  dd if=/dev/$d bs=1M skip=512 count=1 iflag=direct status=none | cmp - <(head -c 1048576 /tmp/pattern) &&
  dd if=/dev/$d bs=1M skip=513 count=1 iflag=direct status=none | cmp - /tmp/zeros &&
  dd if=/dev/$d bs=1M skip=514 count=2 iflag=direct status=none | cmp - <(tail -c 2097152 /tmp/pattern) &&
  echo "back-$d"
done
P="$SEF_OUT/progress.txt"
echo "ready" >>"$P"
for _ in $(seq 1 600); do [[ -e "$SEF_OUT/go" ]] && break; sleep 0.2; done
for i in $(seq 0 63); do
  for d in vda nvme0n1; do
    yes "block $i of $d" | head -c 262144 >/tmp/b
    dd if=/tmp/b of=/dev/$d bs=256k seek=$((3072 + i)) count=1 oflag=direct conv=fdatasync status=none || break 2
  done
  echo "flushed $i" >>"$P"
  sleep 0.2
done
sleep 600
GUEST
# While this QEMU has the unit, a second QEMU on it is refused.
unit_in_use() { aio_error unit-in-use "unit 0 .*(in use|locked)" file=0:1; }
run_guest_until_killed "$E2E_TMP/guest2.sh" "flushed 5" unit_in_use "${ARGS[@]}"
check "boot 2: QEMU killed with SIGKILL during the workload" test "$KILLED" -eq 1
O2="$E2E_TMP/output2.txt"
for d in vda nvme0n1; do
  check "boot 2: $d: the pattern, and zeros where boot 1 trimmed or zeroed, are back" has "$O2" "^back-$d\$"
done
flushed="$(sed -nE 's/^flushed ([0-9]+)$/\1/p' "$PROGRESS" | tail -n1)"
echo "  blocks flushed before the kill: 0..${flushed:-none}"
check "boot 2: the kill came before the workload ended" test "${flushed:-63}" -lt 63

# --- boot 3: after kill -9 -----------------------------------------------------------------------
cat >"$E2E_TMP/guest.sh" <<GUEST
#!/bin/bash
set -u
for d in vda nvme0n1; do
  for i in \$(seq 0 ${flushed:-0}); do
    yes "block \$i of \$d" | head -c 262144 >/tmp/b
    dd if=/dev/\$d bs=256k skip=\$((3072 + i)) count=1 iflag=direct status=none | cmp -s - /tmp/b || echo "lost \$d \$i"
  done
  yes "sef block pattern" | head -c 1048576 >/tmp/p
  dd if=/dev/\$d bs=1M skip=512 count=1 iflag=direct status=none | cmp -s - /tmp/p && echo "pattern-\$d"
done
echo "flushed-checked"
GUEST
run_guest "${ARGS[@]}"
O3="$E2E_TMP/output.txt"
check "boot 3: every block flushed before the kill (0..${flushed:-none}) reads back on both devices" \
  bash -c "[[ -n '$flushed' ]] && grep -q '^flushed-checked$' '$O3' && ! grep -q '^lost ' '$O3'"
for d in vda nvme0n1; do
  check "boot 3: $d: boot 1's pattern is still there" has "$O3" "^pattern-$d\$"
done
echo "  test time: $((SECONDS - T0)) s"
e2e_done
