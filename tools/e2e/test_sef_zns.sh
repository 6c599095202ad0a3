#!/usr/bin/env bash
# E2E: the seed's SEF-backed ZNS device (docs/qemu-devices.md), spelled as in the seed,
#   -drive if=none,id=nvme1,file=nvme3.raw,format=raw -device nvme,serial=654321
#   -device nvme-ns,drive=nvme1,nsid=1,sef=true,zoned=true,sef_qos_domain=3
# on the embedded default unit (unit 0) in a temporary SEF_DATA_DIR, in a Linux 6.1 guest.
#
# Host: `-device nvme-ns,help` lists the options; malformed options make QEMU exit 1 at start
# with one line (file-less: a malformed or unknown unit, a missing domain, a zone size the
# domain was not formatted with; and, while boot 2 runs, a second QEMU on the unit in use). The
# block devices (sef=true without zoned=true, sef-aio) are test_sef_block.sh's.
# Boot 1: lsblk -z says host-managed with 8 MiB zones (the default unit's super block), 128 of
# them (1 GiB, what the ZNS layer exports); blkzone report shows len/cap 0x4000 sectors; the
# seed's zbd randrw job (64M instead of 8G) runs twice without error; a sequential write with
# verify=crc32c; a known pattern written to zone 120 with a flush.
# Boot 2 (restart): the write pointers of boot 1 are back (open zones come back closed) and the
# pattern reads back. Then a workload writes 256 KiB blocks to zone 121, each followed by a
# flush (dd conv=fdatasync), and prints "flushed N"; the host kill -9s QEMU after a few.
# Boot 3: every block flushed before the kill reads back, zone 121's write pointer covers them,
# and the report is consistent (zone 120 intact).
set -euo pipefail
source "$(dirname "$0")/lib.sh"

QEMU="${SEF_QEMU:-$("$REPO_ROOT/tools/qemu/build_qemu.sh" 2>"$E2E_TMP/qemu.err" | tail -n1)}" \
  || { tail -n 40 "$E2E_TMP/qemu.err"; fail "build_qemu.sh"; e2e_done; }
echo "  qemu $QEMU"

# The embedded default unit on a clean slate, no host discovery.
printf '{"discover": false}\n' >"$E2E_TMP/units.json"
export SEF_UNITS_FILE="$E2E_TMP/units.json" SEF_DATA_DIR="$E2E_TMP/data"
: >"$E2E_TMP/nvme3.raw" # the seed's (unused) backing file, zero-sized
: >"$E2E_TMP/other.raw"  # the same for QEMUs that must not start (QEMU locks image files)
SEED_NS="nvme-ns,drive=nvme1,nsid=1,sef=true,zoned=true,sef_qos_domain=3"
seed_args() { # NVME-NS-DEVICE [RAW-FILE]
  printf '%s\n' -drive "if=none,id=nvme1,file=${2:-$E2E_TMP/nvme3.raw},format=raw" \
    -device nvme,serial=654321 -device "$1"
}

# --- host checks: options and start-up errors ---------------------------------------------------
"$QEMU" -device nvme-ns,help >"$E2E_TMP/help.txt" 2>&1 || true
for opt in sef sef_unit sef_qos_domain 'sef\.unit' 'sef\.qos_domain'; do
  check "-device nvme-ns,help lists $opt" has "$E2E_TMP/help.txt" "^ +$opt=<[a-z0-9]+> +- "
done

start_error() { # NAME NVME-NS-DEVICE EXPECTED-ERE: the seed's ZNS lines with another nvme-ns
  local args
  mapfile -t args < <(seed_args "$2" "$E2E_TMP/other.raw")
  qemu_start_error "$QEMU" "$1" "$3" "${args[@]}"
}
start_error malformed-unit "$SEED_NS,sef_unit=abc" "unit 'abc' is neither a unit number"
start_error unknown-unit "$SEED_NS,sef_unit=7" "unit 7: no such SEF unit"
start_error missing-domain "nvme-ns,drive=nvme1,nsid=1,sef=true,zoned=true,sef_qos_domain=9" \
  "unit 0 .*QoS domain 9"
start_error domain-zero "nvme-ns,drive=nvme1,nsid=1,sef=true,zoned=true,sef.qos_domain=0" \
  "QoS domain 0"
start_error dotted-disagree "$SEED_NS,sef.qos_domain=4" "sef_qos_domain=3 and sef.qos_domain=4 disagree"
start_error sef-options-without-sef "nvme-ns,drive=nvme1,nsid=1,sef_unit=0" "need sef=true"

# --- boot 1: geometry, the seed's fio job twice, verify, a pattern ------------------------------
cat >"$E2E_TMP/guest.sh" <<'GUEST'
#!/bin/bash
set -u
D=/dev/nvme0n1
echo "== lsblk -z"; lsblk -z
lsblk -b -d -o NAME,ZONED,ZONE-SZ,ZONE-NR,SIZE "$D" | sed 's/^/geometry: /'
echo mq-deadline >/sys/block/nvme0n1/queue/scheduler
echo "== blkzone report | head -2"; blkzone report "$D" | head -2
for run in 1 2; do
  fio --aux-path=/tmp --allow_file_create=0 --name=job1 --filename="$D" --rw=randrw --direct=1 \
      --zonemode=zbd --bs=128k --size=64M --eta=never --output="$SEF_OUT/fio-$run.txt"
  echo "fio-$run-status=$?"
done
# Zones 100..101: reset, sequential write with verify.
blkzone reset -o $((100 * 16384)) -c 2 "$D"
fio --name=verify --filename="$D" --zonemode=zbd --rw=write --bs=128k --offset=$((100 * 8))M \
    --size=16M --direct=1 --verify=crc32c --do_verify=1 --eta=never --output="$SEF_OUT/fio-verify.txt"
echo "fio-verify-status=$?"
# Zone 120: 3 MiB of a known pattern, flushed.
blkzone reset -o $((120 * 16384)) -c 1 "$D"
yes "sef zone 120 pattern" | head -c 3145728 >/tmp/pattern
dd if=/tmp/pattern of="$D" bs=1M seek=960 count=3 oflag=direct conv=fdatasync status=none
echo "pattern-status=$?"
blkzone report "$D" >"$SEF_OUT/zones-1.txt"; echo "report-1-status=$?"
GUEST
mapfile -t ARGS < <(seed_args "$SEED_NS")
run_guest "${ARGS[@]}"
O="$E2E_TMP/output.txt"
check "lsblk -z: nvme0n1 host-managed" has "$O" '^nvme0n1 +host-managed'
check "geometry: 8 MiB zones, 128 of them, 1 GiB" has "$O" '^geometry: nvme0n1 +host-managed +8388608 +128 +1073741824$'
check "blkzone report: zone 0 len and cap 0x4000 sectors (the super block)" \
  has "$O" '^ *start: 0x000000000, len 0x004000, cap 0x004000, wptr 0x[0-9a-f]+ '
for run in 1 2; do
  F="$E2E_TMP/out/fio-$run.txt"
  check "seed's zbd randrw job, run $run: exit 0" has "$O" "^fio-$run-status=0\$"
  check "seed's zbd randrw job, run $run: err= 0, wrote and read" \
    bash -c "grep -q 'job1: (groupid=0, jobs=1): err= 0' '$F' && grep -Eq '^ +WRITE: .*io=[1-9]' '$F' && grep -Eq '^ +READ: .*io=[1-9]' '$F'"
done
[[ -f "$E2E_TMP/out/fio-2.txt" ]] && show "$E2E_TMP/out/fio-2.txt"
check "sequential write with verify=crc32c: exit 0, err= 0" \
  bash -c "grep -q '^fio-verify-status=0$' '$O' && grep -q 'err= 0' '$E2E_TMP/out/fio-verify.txt'"
check "pattern written and flushed" has "$O" '^pattern-status=0$'
check "blkzone report after boot 1 exited 0" has "$O" '^report-1-status=0$'

# Domain 3 now holds 8 MiB zones: other zone sizes are refused.
start_error zone-size "$SEED_NS,zoned.zone_size=4M" "QoS domain 3: zone size 1024 blocks asked.*zones of 2048 blocks"
start_error zone-size-odd "$SEED_NS,zoned.zone_size=4097" "zoned.zone_size: 4097 bytes is not a multiple of 4096"

# "start wptr" of every zone (open zones come back closed after a restart: conditions differ).
wptrs() { sed -nE 's/^ *start: (0x[0-9a-f]+), len .*wptr (0x[0-9a-f]+) .*/\1 \2/p' "$1"; }
wptrs "$E2E_TMP/out/zones-1.txt" >"$E2E_TMP/wp-1.txt"
check "boot 1 report: 128 zones, zone 120 at 3 MiB" \
  bash -c "test \$(wc -l <'$E2E_TMP/wp-1.txt') -eq 128 && grep -q '^0x0001e0000 0x001800\$' '$E2E_TMP/wp-1.txt'"

# --- boot 2: restart; then writes and flushes until kill -9 -------------------------------------
cat >"$E2E_TMP/guest2.sh" <<'GUEST'
#!/bin/bash
set -u
D=/dev/nvme0n1
blkzone report "$D" >"$SEF_OUT/zones-2.txt"; echo "report-2-status=$?"
yes "sef zone 120 pattern" | head -c 3145728 >/tmp/pattern
dd if="$D" bs=1M skip=960 count=3 iflag=direct status=none | cmp - /tmp/pattern && echo "pattern-back"
blkzone reset -o $((121 * 16384)) -c 1 "$D"
# The console reaches the host only at the end: progress goes through the shared folder.
P="$SEF_OUT/progress.txt"
echo "ready" >>"$P"
for _ in $(seq 1 600); do [[ -e "$SEF_OUT/go" ]] && break; sleep 0.2; done
for i in $(seq 0 31); do
  yes "block $i of zone 121" | head -c 262144 >/tmp/b
  dd if=/tmp/b of="$D" bs=256k seek=$((121 * 32 + i)) count=1 oflag=direct conv=fdatasync status=none || break
  echo "flushed $i" >>"$P"
  sleep 0.3
done
sleep 600
GUEST
# While this QEMU has the unit, a second QEMU on it is refused.
unit_in_use() { start_error unit-in-use "$SEED_NS" "unit 0 .*(in use|locked)"; }
run_guest_until_killed "$E2E_TMP/guest2.sh" "flushed 5" unit_in_use "${ARGS[@]}"
check "boot 2: QEMU killed with SIGKILL during the workload" test "$KILLED" -eq 1
O2="$E2E_TMP/output2.txt"
check "boot 2: blkzone report exited 0" has "$O2" '^report-2-status=0$'
wptrs "$E2E_TMP/out/zones-2.txt" >"$E2E_TMP/wp-2.txt"
check "boot 2: every zone's write pointer as boot 1 left it" cmp -s "$E2E_TMP/wp-1.txt" "$E2E_TMP/wp-2.txt"
check "boot 2: the pattern reads back" has "$O2" '^pattern-back$'
flushed="$(sed -nE 's/^flushed ([0-9]+)$/\1/p' "$PROGRESS" | tail -n1)"
echo "  blocks flushed before the kill: 0..${flushed:-none}"
check "boot 2: the kill came before the workload ended" test "${flushed:-31}" -lt 31

# --- boot 3: after kill -9 -----------------------------------------------------------------------
cat >"$E2E_TMP/guest3.sh" <<GUEST
#!/bin/bash
set -u
D=/dev/nvme0n1
blkzone report "\$D" >"\$SEF_OUT/zones-3.txt"; echo "report-3-status=\$?"
for i in \$(seq 0 ${flushed:-0}); do
  yes "block \$i of zone 121" | head -c 262144 >/tmp/b
  dd if="\$D" bs=256k skip=\$((121 * 32 + i)) count=1 iflag=direct status=none | cmp -s - /tmp/b || echo "lost \$i"
done
echo "flushed-checked"
yes "sef zone 120 pattern" | head -c 3145728 >/tmp/pattern
dd if="\$D" bs=1M skip=960 count=3 iflag=direct status=none | cmp - /tmp/pattern && echo "pattern-back"
GUEST
cp "$E2E_TMP/guest3.sh" "$E2E_TMP/guest.sh"
run_guest "${ARGS[@]}"
O3="$E2E_TMP/output.txt"
check "boot 3: blkzone report exited 0" has "$O3" '^report-3-status=0$'
check "boot 3: every block flushed before the kill (0..${flushed:-none}) reads back" \
  bash -c "[[ -n '$flushed' ]] && grep -q '^flushed-checked$' '$O3' && ! grep -q '^lost ' '$O3'"
wptrs "$E2E_TMP/out/zones-3.txt" >"$E2E_TMP/wp-3.txt"
z121="$(sed -n '122p' "$E2E_TMP/wp-3.txt")"
echo "  zone 121 after the kill: $z121"
# 256 KiB blocks are 512 sectors; zone 121 starts at sector 121 * 16384.
check "boot 3: zone 121's write pointer covers the flushed blocks" \
  bash -c "[[ -n '$flushed' ]] && (( \$(printf '%d' \$(cut -d' ' -f2 <<<'$z121')) >= ($flushed + 1) * 512 ))"
check "boot 3: every other zone as boot 1 left it" \
  bash -c "diff <(sed '122d' '$E2E_TMP/wp-1.txt') <(sed '122d' '$E2E_TMP/wp-3.txt')"
check "boot 3: the pattern of zone 120 reads back" has "$O3" '^pattern-back$'
e2e_done
