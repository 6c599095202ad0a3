#!/usr/bin/env bash
# E2E: the patched QEMU's emulated SEF unit (-device nvme,sef.unit=...; docs/qemu-sef-controller.md)
# in a Linux 6.1 guest.
#
# Host side: uses the project's QEMU (run_all.sh's SEF_QEMU, or tools/qemu/build_qemu.sh, which
# links libsefbridge) and builds the guest's tools (sef_hal_probe, sef_hal_io, the HAL
# conformance test, the FTL test; the guest runs the host's binaries over 9p). Checks that `-device
# nvme,help` lists the sef.* options and that a malformed unit name, an invalid unit config
# or an unusable backing file makes QEMU exit 1 at start with one line naming the problem.
#
# Guest, boot 1 (tiny unit on a new backing file): sef_hal_probe /dev/nvme0 --json prints the
# unit; the HAL conformance suite's device instantiation passes through io_uring uring_cmd, and
# (unless SEF_E2E_FTL=0) so does most of the block FTL's functional suite (FTL_TESTS);
# /dev/ngXnY exist for the QoS domains it leaves, and the initramfs's /dev (pid 1's root, the one
# kernel threads resolve paths in) has /dev/nvme0 and them too; then sef_hal_io replaces them (the suite
# deletes every QoS domain and virtual device at start and leaves the VD without free super
# blocks) by a virtual device and QoS domain of its own and writes a pattern into it. Boot 2 (same backing file): before anything destructive, sef_hal_io reads
# boot 1's data back by flash address (user-address verify, data and metadata compared); the
# probe shows the virtual device and QoS domains boot 1 left; nvme-cli sends two admin commands
# in the SEF SDK's forms (log 0xD0 header only; Get Features 0xD0 SEL 1 with its dword count)
# and the controller moves exactly the host's buffer; then the suite passes again
# through the ioctl fallback (SEF_TEST_FORCE_IOCTL=1); then sef-cli replaces what the suite
# left by a virtual device and a labelled QoS domain of its own, lists them, and makes the
# domain a zoned namespace (configure zns, report zns) on /dev/nvme0; then it creates a second
# labelled QoS domain, formats it as a block FTL (configure ftl), sef_hal_io --ftl writes a
# pattern through the FTL and reads it back in another process, and info ftl, check ftl and
# list qos-domain show it.
#
# The QoS domains are presented as NVM namespaces (sef.ns_csi=nvm): the 6.1 kernel creates
# /dev/ngXnY for CSI 0x30 namespaces too, but without an integrity profile, so it refuses
# every passthrough command that carries metadata (EINVAL). The whole device suite runs;
# KNOWN_GAPS can name tests to leave out (none now; SEF_E2E_SEF_ALL_TESTS=1 ignores it).
set -euo pipefail
source "$(dirname "$0")/lib.sh"

# The HAL splits I/O at the controller's MDTS and gives metadata-only reads a scratch data
# buffer, so the two tests once listed here (an NLW above QEMU's 512 KiB transfer limit; a
# metadata-only read, whose metadata 6.1 drops without data) now run.
KNOWN_GAPS=()
# The block FTL's functional suite on the device (sef/ftl/ftl_test.cc), boot 1, io_uring: all
# but the two long GC workloads (they run on the model) and the two tests that need a model
# unit (fault injection; 8 open super blocks). SEF_E2E_FTL=0 leaves it out. (For a day the two
# tests of thousands of synchronous writes, UnmountAndMountKeepsData and
# MountAfterAnUncleanStopReplays, ran only on request: a write sometimes failed after 30 s.
# That was the HAL's max_segments bug, fixed on 2026-11-28: docs/testing.md.)
FTL_IN_GUEST="${SEF_E2E_FTL:-1}"
FTL_TESTS='*/device:-*OverwritesCollectGarbage*:*ConcurrentWritersWithGarbageCollection*:*DeviceErrorsKeepTheirNvmeStatus*:*NewDataAtFullOccupancy*'

VM_TIMEOUT="${SEF_E2E_VM_TIMEOUT:-300}"
IO_ADUS=16  # written in boot 1, read back in boot 2 (below the kernel's max transfer)
FTL_BLOCKS=200  # written through the block FTL in boot 2 and read back
UNIT="$REPO_ROOT/testdata/units/tiny.json"

t0=$SECONDS
echo "== host: QEMU and the guest's tools"
QEMU="${SEF_QEMU:-$("$REPO_ROOT/tools/qemu/build_qemu.sh" 2>"$E2E_TMP/qemu.err" | tail -n1)}" \
  || { tail -n 40 "$E2E_TMP/qemu.err"; fail "build_qemu.sh"; e2e_done; }
(cd "$REPO_ROOT" && bazel build //tools/sef_hal_probe //tools/sef_hal_io //tools/sef_cli:sef-cli \
  //sef/hal:conformance_test //sef/ftl:ftl_test) \
  >"$E2E_TMP/bazel.log" 2>&1 || { tail -n 30 "$E2E_TMP/bazel.log"; fail "bazel build"; e2e_done; }
BIN="$(cd "$REPO_ROOT" && bazel info bazel-bin 2>/dev/null)"
echo "  qemu   $QEMU"
echo "  tools  $BIN ($((SECONDS - t0)) s)"

# --- host checks: options and start-up errors ---------------------------------------------------
"$QEMU" -device nvme,help >"$E2E_TMP/help.txt" 2>&1 || true
check "-device nvme,help lists sef.unit" has "$E2E_TMP/help.txt" '^ +sef\.unit=<str> +- '
check "-device nvme,help lists sef.ns_csi" has "$E2E_TMP/help.txt" '^ +sef\.ns_csi=<str> +- '

start_error() { # NAME DEVICE-ARGS EXPECTED-ERE: QEMU exits 1 at start with one matching line
  local name="$1" dev="$2" want="$3" rc=0
  timeout 30 "$QEMU" -nodefaults -display none -machine q35 -accel tcg \
    -L /usr/share/seabios -L /usr/share/qemu -device "$dev" >"$E2E_TMP/$name.out" 2>&1 || rc=$?
  sed 's/^/  | /' "$E2E_TMP/$name.out"
  check "$name: QEMU exits 1 at start (got $rc)" test "$rc" -eq 1
  check "$name: one line of output" test "$(wc -l <"$E2E_TMP/$name.out")" -eq 1
  check "$name: the message names the problem" has "$E2E_TMP/$name.out" "$want"
}
printf '{"name": "bad", "geometry": {"channels": 0}}\n' >"$E2E_TMP/bad.json"
start_error bad-config "nvme,serial=bad,sef.unit=model:$E2E_TMP/bad.json" \
  "sef\.unit: $E2E_TMP/bad\.json: .*(channels|geometry)"
start_error missing-config "nvme,serial=bad,sef.unit=model:$E2E_TMP/none.json" \
  "sef\.unit: $E2E_TMP/none\.json: .*No such file"
# Unit names as every SEF device takes them (docs/qemu-devices.md): no units file but one that
# turns host discovery off, so unit 0 alone exists (the embedded default, not opened here).
printf '{"discover": false}\n' >"$E2E_TMP/units.json"
export SEF_UNITS_FILE="$E2E_TMP/units.json" SEF_DATA_DIR="$E2E_TMP/data"
start_error malformed-unit "nvme,serial=bad,sef.unit=abc" \
  "sef\.unit: unit 'abc' is neither a unit number nor a SEF unit spec"
start_error unknown-unit "nvme,serial=bad,sef.unit=7" "sef\.unit: unit 7: no such SEF unit"
mkdir -p "$E2E_TMP/a-directory"
start_error unusable-backing "nvme,serial=bad,sef.unit=model:$UNIT:$E2E_TMP/a-directory" \
  "sef\.unit: .*a-directory"
start_error bad-ns-csi "nvme,serial=bad,sef.unit=model:$UNIT,sef.ns_csi=zns" "sef\.ns_csi: 'zns'"

# --- boot 1 --------------------------------------------------------------------------------------
BACKING="$E2E_TMP/unit0.sef"
DEVICE="nvme,serial=sefe2e0,sef.unit=model:$UNIT:$BACKING,sef.ns_csi=nvm"
exclude=""
if [[ ${#KNOWN_GAPS[@]} -gt 0 && "${SEF_E2E_SEF_ALL_TESTS:-0}" != 1 ]]; then
  exclude="$(printf -- '*.%s/device:' "${KNOWN_GAPS[@]}")"
  exclude="-${exclude%:}"
fi
cat >"$E2E_TMP/boot1.sh" <<GUEST
#!/bin/bash
cd "$REPO_ROOT"
echo "== nvme devices"; ls /dev/nvme* /dev/ng* 2>&1 | tr '\n' ' '; echo
echo "== probe"
timeout -s KILL 60 "$BIN/tools/sef_hal_probe/sef_hal_probe" /dev/nvme0 --json >"\$SEF_OUT/probe1.json" 2>&1
echo "probe-status=\$?"
for path in uring; do
  force=0
  echo "== conformance (\$path)"
  SEF_TEST_DEVICE=/dev/nvme0 SEF_TEST_FORCE_IOCTL=\$force timeout -s KILL 120 \\
    "$BIN/sef/hal/conformance_test" --gtest_filter='*/device${exclude}' \\
    >"\$SEF_OUT/conformance-\$path.txt" 2>&1
  echo "conformance-\$path-status=\$?"
  echo "== generic devices after (\$path): \$(ls /dev/ng* 2>/dev/null | tr '\n' ' ')"
done
if [ "$FTL_IN_GUEST" = 1 ]; then
  echo "== ftl (uring)"
  SEF_TEST_DEVICE=/dev/nvme0 timeout -s KILL 180 "$BIN/sef/ftl/ftl_test" --gtest_filter='$FTL_TESTS' \
    >"\$SEF_OUT/ftl-uring.txt" 2>&1
  echo "ftl-uring-status=\$?"
fi
echo "== initramfs /dev (what kernel threads see): nvme0=\$([ -c /proc/1/root/dev/nvme0 ] && echo char) \$(cd /proc/1/root/dev && ls -d ng* 2>/dev/null | tr '\n' ' ')"
echo "== data for boot 2"
IO="$BIN/tools/sef_hal_io/sef_hal_io"
timeout -s KILL 60 "\$IO" /dev/nvme0 setup --reset --domain-capacity-adus 256 >"\$SEF_OUT/io-setup.json" 2>&1
echo "io-setup-status=\$?"
domain=\$(sed -n 's/.*"domain":\([0-9]*\).*/\1/p' "\$SEF_OUT/io-setup.json")
timeout -s KILL 60 "\$IO" /dev/nvme0 write --domain "\$domain" --lba 4096 --adus $IO_ADUS --seed 20240611 \\
  >"\$SEF_OUT/io-write.json" 2>"\$SEF_OUT/io-write.err"
echo "io-write-status=\$?"
timeout -s KILL 60 "$BIN/tools/sef_hal_probe/sef_hal_probe" /dev/nvme0 --json >"\$SEF_OUT/probe1-end.json" 2>&1
echo "probe-end-status=\$?"
dmesg | grep -i nvme | sort -u -k3 | head -20
GUEST

run_boot() { # N SCRIPT
  local rc=0 t=$SECONDS
  "$RUN_VM" --qemu "$QEMU" --timeout "$VM_TIMEOUT" --out "$E2E_TMP/out" --script "$2" -- -device "$DEVICE" \
    >"$E2E_TMP/boot$1.txt" 2>"$E2E_TMP/boot$1.err" || rc=$?
  show "$E2E_TMP/boot$1.txt"
  check "boot $1: runner exit status 0 (got $rc, $((SECONDS - t)) s)" test "$rc" -eq 0
  [[ $rc -eq 0 ]] || sed 's/^/  runner: /' "$E2E_TMP/boot$1.err"
}
mkdir -p "$E2E_TMP/out"
run_boot 1 "$E2E_TMP/boot1.sh"
O="$E2E_TMP/out"
[[ -f "$O/probe1.json" ]] && show "$O/probe1.json"
check "probe exited 0" has "$E2E_TMP/boot1.txt" '^probe-status=0$'
check "probe: the unit's serial" has "$O/probe1.json" '"serial": "SEFTINY0001"'
check "probe: transport /dev/nvme0" has "$O/probe1.json" '"transport": "/dev/nvme0"'
check "probe: tiny geometry (2 channels, 4 dies)" has "$O/probe1.json" '"dies": 4'
check "probe: capabilities include pslc" has "$O/probe1.json" '"pslc"'
# A gtest log's result lines, and each failure with the 4 lines of message after it.
gtest_summary() {
  awk '/^\[ +(OK|FAILED|PASSED|SKIPPED) +\]/ || /^[^[].*:[0-9]+: / { print; n = 0 }
       n > 0 { print; n-- }  /Failure$/ { n = 4 }' "$1" | sed 's/^/  | /'
}
conformance_checks() { # PATH BOOT-OUTPUT
  local path="$1" F="$O/conformance-$1.txt"
  [[ -f "$F" ]] && gtest_summary "$F"
  check "conformance ($path) exited 0" has "$2" "^conformance-$path-status=0\$"
  check "conformance ($path): device tests passed" has "$F" '^\[  PASSED  \] [1-9][0-9]* tests?\.'
  check "conformance ($path): nothing failed or skipped" test -s "$F" -a -z "$(grep -E '^\[  (SKIPPED|FAILED) +\]' "$F" 2>/dev/null)"
}
conformance_checks uring "$E2E_TMP/boot1.txt"
if [[ "$FTL_IN_GUEST" == 1 ]]; then
  F="$O/ftl-uring.txt"
  [[ -f "$F" ]] && gtest_summary "$F"
  check "ftl suite (uring) exited 0" has "$E2E_TMP/boot1.txt" '^ftl-uring-status=0$'
  check "ftl suite (uring): device tests passed" has "$F" '^\[  PASSED  \] [1-9][0-9]* tests?\.'
  check "ftl suite (uring): nothing failed or skipped" test -s "$F" -a -z "$(grep -E '^\[  (SKIPPED|FAILED) +\]' "$F" 2>/dev/null)"
fi
check "the QoS domains the suite left have /dev/ngXnY" has "$E2E_TMP/boot1.txt" '^== generic devices after \(uring\): /dev/ng0n[0-9]'
check "initramfs /dev has /dev/nvme0 and the /dev/ngXnY made since boot (kernel threads' view)" \
  has "$E2E_TMP/boot1.txt" '^== initramfs /dev \(what kernel threads see\): nvme0=char ng0n[0-9]'
for f in io-setup.json io-write.json io-write.err; do [[ -s "$O/$f" ]] && show "$O/$f"; done
check "sef_hal_io setup exited 0" has "$E2E_TMP/boot1.txt" '^io-setup-status=0$'
check "sef_hal_io setup created a QoS domain" has "$O/io-setup.json" '"created":true'
check "sef_hal_io write exited 0" has "$E2E_TMP/boot1.txt" '^io-write-status=0$'
written() { [[ $(grep -o '"0x[0-9a-f]\{16\}"' "$O/io-write.json" 2>/dev/null | sort -u | wc -l) -eq $IO_ADUS ]]; }
check "sef_hal_io write: $IO_ADUS distinct flash addresses" written

# --- boot 2: the same backing file ------------------------------------------------------------
cat >"$E2E_TMP/boot2.sh" <<GUEST
#!/bin/bash
cd "$REPO_ROOT"
echo "== generic devices at boot: \$(ls /dev/ng* 2>/dev/null | tr '\n' ' ')"
echo "== boot 1's data"
timeout -s KILL 60 "$BIN/tools/sef_hal_io/sef_hal_io" /dev/nvme0 verify --from-json "\$SEF_OUT/io-write.json" \\
  >"\$SEF_OUT/io-verify.json" 2>"\$SEF_OUT/io-verify.err"
echo "io-verify-status=\$?"
timeout -s KILL 60 "$BIN/tools/sef_hal_probe/sef_hal_probe" /dev/nvme0 --json >"\$SEF_OUT/probe2.json" 2>&1
echo "probe-status=\$?"
echo "== the SDK's admin forms through the controller (nvme-cli passthrough, VD 1)"
nvme admin-passthru /dev/nvme0 --opcode=0x02 --cdw10=0x003000d0 --cdw11=0x00010000 \\
  --data-len=196 --read --raw-binary >"\$SEF_OUT/sdk-vd-header.bin" 2>"\$SEF_OUT/sdk-vd-header.err"
echo "sdk-vd-header-status=\$? bytes=\$(wc -c <"\$SEF_OUT/sdk-vd-header.bin")"
nvme admin-passthru /dev/nvme0 --opcode=0x0a --namespace-id=1 --cdw10=0xd0 --cdw11=0x03690001 \\
  --data-len=3496 --read --raw-binary >"\$SEF_OUT/sdk-fifos.bin" 2>"\$SEF_OUT/sdk-fifos.err"
echo "sdk-fifos-status=\$? bytes=\$(wc -c <"\$SEF_OUT/sdk-fifos.bin")"
echo "== conformance (ioctl)"
SEF_TEST_DEVICE=/dev/nvme0 SEF_TEST_FORCE_IOCTL=1 timeout -s KILL 120 \\
  "$BIN/sef/hal/conformance_test" --gtest_filter='*/device${exclude}' \\
  >"\$SEF_OUT/conformance-ioctl.txt" 2>&1
echo "conformance-ioctl-status=\$?"
echo "== sef-cli"
CLI="$BIN/tools/sef_cli/sef-cli"
for q in \$("\$CLI" list qos-domain -u /dev/nvme0 | awk 'NR > 1 && \$1 ~ /^[0-9]+\$/ { print \$1 }'); do
  "\$CLI" delete qos-domain -u /dev/nvme0 -q "\$q"
done
"\$CLI" delete virtual-device -u /dev/nvme0
echo "cli-delete-status=\$?"
"\$CLI" create virtual-device -u /dev/nvme0 --dies-per-sb 2
echo "cli-create-vd-status=\$?"
"\$CLI" create qos-domain -u /dev/nvme0 --capacity 50% --max-open-sbs 4 --label "15 16"
echo "cli-create-domain-status=\$?"
"\$CLI" list virtual-device -u /dev/nvme0 >"\$SEF_OUT/cli-vd.txt" 2>&1
echo "cli-list-vd-status=\$?"
"\$CLI" list qos-domain -u /dev/nvme0 --json >"\$SEF_OUT/cli-domains.json" 2>&1
echo "cli-list-domains-status=\$?"
"\$CLI" configure zns -u /dev/nvme0 -l "15 16"
echo "cli-zns-status=\$?"
"\$CLI" report zns -u /dev/nvme0 -l "15 16" --count 2 >"\$SEF_OUT/cli-zones.txt" 2>&1
echo "cli-report-status=\$?"
echo "== sef-cli: a block FTL domain"
IO="$BIN/tools/sef_hal_io/sef_hal_io"
"\$CLI" create qos-domain -u /dev/nvme0 --max-open-sbs 4 --label "17 18" --json \
  >"\$SEF_OUT/cli-ftl-domain.json" 2>&1
echo "cli-create-ftl-domain-status=\$?"
ftlq=\$(sed -n 's/^ *"id": *\([0-9]*\),*\$/\1/p' "\$SEF_OUT/cli-ftl-domain.json" | head -n 1)
timeout -s KILL 120 "\$CLI" configure ftl -u /dev/nvme0 -l "17 18" --overprovisioning 50 \
  >"\$SEF_OUT/cli-ftl-configure.txt" 2>&1
echo "cli-ftl-configure-status=\$?"
timeout -s KILL 120 "\$IO" /dev/nvme0 write --ftl --domain "\$ftlq" --lba 0 --adus $FTL_BLOCKS --seed 15 \
  >"\$SEF_OUT/ftl-write.json" 2>&1
echo "ftl-write-status=\$?"
timeout -s KILL 120 "\$IO" /dev/nvme0 verify --from-json "\$SEF_OUT/ftl-write.json" \
  >"\$SEF_OUT/ftl-verify.json" 2>&1
echo "ftl-verify-status=\$?"
timeout -s KILL 120 "\$CLI" info ftl -u /dev/nvme0 -l "17 18" >"\$SEF_OUT/cli-ftl-info.txt" 2>&1
echo "cli-ftl-info-status=\$?"
timeout -s KILL 120 "\$CLI" check ftl -u /dev/nvme0 -l "17 18" --json >"\$SEF_OUT/cli-ftl-check.json" 2>&1
echo "cli-ftl-check-status=\$?"
"\$CLI" list qos-domain -u /dev/nvme0
GUEST
run_boot 2 "$E2E_TMP/boot2.sh"
for f in io-verify.json io-verify.err; do [[ -s "$O/$f" ]] && show "$O/$f"; done
check "boot 2: sef_hal_io verify exited 0" has "$E2E_TMP/boot2.txt" '^io-verify-status=0$'
check "boot 2: boot 1's $IO_ADUS ADUs read back (data, metadata, user addresses)" \
  has "$O/io-verify.json" "\"verified\":$IO_ADUS[,}]"
check "boot 2: no mismatches or read errors" \
  has "$O/io-verify.json" '"errors":0,.*"mismatches":0,'
check "boot 2: probe exited 0" has "$E2E_TMP/boot2.txt" '^probe-status=0$'
# Log 0xD0 header only (196 B, NUMDL 48) and Get Features 0xD0 SEL 1 with CDW11[31:16] =
# dwords - 1 (3496 B): the controller moves exactly the host's buffer, and VD 1 answers.
for f in sdk-vd-header.err sdk-fifos.err; do [[ -s "$O/$f" ]] && show "$O/$f"; done
check "boot 2: the SDK's header-only VD log read (196 B)" has "$E2E_TMP/boot2.txt" '^sdk-vd-header-status=0 bytes=196$'
check "boot 2: the header names VD 1" test "$(od -An -tu2 -N2 "$O/sdk-vd-header.bin" 2>/dev/null | tr -d ' ')" = 1
check "boot 2: the SDK's read FIFO list form (CDW11 0x03690001, 3496 B)" has "$E2E_TMP/boot2.txt" '^sdk-fifos-status=0 bytes=3496$'
check "boot 2: the list starts with VD 1's read FIFO 1" test "$(od -An -tu4 -N4 "$O/sdk-fifos.bin" 2>/dev/null | tr -d ' ')" = 1
strip() { grep -v '"transport"' "$1" 2>/dev/null; }
if [[ -f "$O/probe1-end.json" && -f "$O/probe2.json" ]]; then
  diff <(strip "$O/probe1-end.json") <(strip "$O/probe2.json") | sed 's/^/  diff: /' || true
fi
same_state() { [[ -s "$O/probe1-end.json" && -s "$O/probe2.json" ]] &&
  cmp -s <(strip "$O/probe1-end.json") <(strip "$O/probe2.json"); }
check "boot 2: virtual devices and QoS domains as boot 1 left them" same_state
check "boot 2: the QoS domains are there" has "$O/probe2.json" '"qos_domains": \[$'
check "boot 2: /dev/ngXnY at boot" has "$E2E_TMP/boot2.txt" '^== generic devices at boot: /dev/ng0n[0-9]'
conformance_checks ioctl "$E2E_TMP/boot2.txt"
for f in cli-vd.txt cli-domains.json cli-zones.txt; do [[ -s "$O/$f" ]] && show "$O/$f"; done
for step in delete create-vd create-domain list-vd list-domains zns report; do
  check "boot 2: sef-cli $step exited 0" has "$E2E_TMP/boot2.txt" "^cli-$step-status=0\$"
done
check "boot 2: sef-cli lists its virtual device over the 4 dies" has "$O/cli-vd.txt" '^1 +4 +2 '
check "boot 2: sef-cli lists its labelled QoS domain" has "$O/cli-domains.json" '"max_open_super_blocks": 4,'
check "boot 2: ... with its label" test "$(tr -d ' \n' <"$O/cli-domains.json" | grep -c '"label":\[15,16\]')" -eq 1
check "boot 2: sef-cli report zns prints zones as blkzone does" \
  has "$O/cli-zones.txt" '^  start: 0x000000000, len 0x[0-9a-f]{6}, cap 0x[0-9a-f]{6}, wptr 0x000000 reset:0 non-seq:0, zcond: 1\(em\) \[type: 2\(SEQ_WRITE_REQUIRED\)\]$'
check "boot 2: the domain is a zoned namespace" has "$E2E_TMP/boot2.txt" '^[0-9]+ +1 +.* zns +15 16$'
for f in cli-ftl-domain.json cli-ftl-configure.txt ftl-write.json ftl-verify.json cli-ftl-info.txt \
  cli-ftl-check.json; do [[ -s "$O/$f" ]] && show "$O/$f"; done
for step in create-ftl-domain ftl-configure ftl-info ftl-check; do
  check "boot 2: sef-cli $step exited 0" has "$E2E_TMP/boot2.txt" "^cli-$step-status=0\$"
done
check "boot 2: configure ftl made it a block FTL" \
  has "$O/cli-ftl-configure.txt" 'is a block FTL: [0-9]+ blocks of 4096 bytes .*over-provisioning 50%'
check "boot 2: sef_hal_io write --ftl exited 0" has "$E2E_TMP/boot2.txt" '^ftl-write-status=0$'
check "boot 2: sef_hal_io verify (through the FTL, another process) exited 0" \
  has "$E2E_TMP/boot2.txt" '^ftl-verify-status=0$'
check "boot 2: the $FTL_BLOCKS blocks written through the FTL read back" \
  has "$O/ftl-verify.json" "\"mismatches\":0,.*\"verified\":$FTL_BLOCKS[,}]"
check "boot 2: info ftl counts the host writes" has "$O/cli-ftl-info.txt" "^host_adus_written +$FTL_BLOCKS\$"
check "boot 2: info ftl prints the WAF" has "$O/cli-ftl-info.txt" '^write_amplification +[0-9]+\.[0-9]{3}$'
check "boot 2: check ftl finds the domain consistent" has "$O/cli-ftl-check.json" '"consistent": true'
check "boot 2: check ftl verified every block written" \
  has "$O/cli-ftl-check.json" "\"verified_blocks\": $FTL_BLOCKS,?\$"
check "boot 2: the domain list shows the FTL domain" has "$E2E_TMP/boot2.txt" '^[0-9]+ +1 +.* ftl +17 18$'

# --- boot 3: QoS domains as CSI 0x30 namespaces (sef.ns_csi=sef, the default), RAM unit -------
# Linux 6.1 keeps /dev/ngXnY for them but refuses metadata (no integrity profile), so the one
# device test that moves metadata is left out here.
DEVICE="nvme,serial=sefe2e1,sef.unit=model:$UNIT"
cat >"$E2E_TMP/boot3.sh" <<GUEST
#!/bin/bash
cd "$REPO_ROOT"
echo "== conformance (csi 0x30)"
SEF_TEST_DEVICE=/dev/nvme0 timeout -s KILL 120 \
  "$BIN/sef/hal/conformance_test" --gtest_filter='*/device:-*ReadVerifyMetadataAndErrors*' \
  >"\$SEF_OUT/conformance-csi30.txt" 2>&1
echo "conformance-csi30-status=\$?"
echo "== generic devices: \$(ls /dev/ng* 2>/dev/null | tr '\n' ' ')"
dmesg | grep -m1 'not supported (csi 48)' | sed 's/^\[[ 0-9.]*\] /kernel: /'
GUEST
run_boot 3 "$E2E_TMP/boot3.sh"
conformance_checks csi30 "$E2E_TMP/boot3.txt"
check "boot 3: the kernel sees CSI 0x30 namespaces" has "$E2E_TMP/boot3.txt" '^kernel: nvme nvme0: .*not supported \(csi 48\)'
echo "total $((SECONDS - t0)) s"
e2e_done
