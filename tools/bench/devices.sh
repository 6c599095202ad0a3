#!/usr/bin/env bash
# Guest I/O benchmark: each SEF-backed QEMU device next to the stock QEMU device a user would
# otherwise pick, in one VM, as ratios measured in one run (docs/performance.md).
#
#   tools/bench/devices.sh [--smoke] [--columns file,ram] [--pairs LIST] [--repeats N]
#                          [--runtime SEC] [--out DIR] [--data-dir DIR] [--pending LIST]
#                          [--timeout SEC]
#
# Pairs (stock | SEF), all about 1 GiB, in one VM per column:
#   virtio       virtio-blk on a raw file       | -drive driver=sef-aio,file=<unit>:1 under virtio
#   nvme         nvme-ns on a raw file          | nvme-ns sef=true, sef_qos_domain=2
#   zns          zoned nvme-ns on a raw file    | nvme-ns sef=true,zoned=true, sef_qos_domain=3
#   passthrough  fio io_uring_cmd on the stock  | sef_hal_io bench-read (the HAL's io_uring
#                namespace's /dev/ngXnY         | uring_cmd) on -device nvme,sef.unit=...
# --pairs LIST (comma-separated, default all: virtio,nvme,zns,passthrough) runs only those
# pairs' devices and cells, e.g. --pairs passthrough --columns file,ram (the passthrough pair's
# stock side is the nvme pair's stock namespace, which is then attached without its cells).
# Columns: "file" = the embedded default unit (unit 0, file-backed, in a temporary
# SEF_DATA_DIR unless --data-dir is given); "ram" = the same configuration as a model unit in
# RAM (a units file names it and lists it in "provision"). The passthrough pair's SEF unit is a
# second unit of the same configuration (a backing file next to unit 0's, or RAM).
#
# Cells (fio 4 KiB random read/write at QD 1 and 32, 128 KiB sequential write at QD 8; zoned
# devices with --zonemode=zbd; passthrough 4 KiB random reads at QD 1 and 32), the pair's runs
# interleaved (stock, SEF, stock, SEF ...), --repeats each (default 3), median reported.
#
# A SEF device QEMU refuses to start (probed one by one first) is reported as
# "not available: <QEMU's message>" and never measured. --pending LIST (comma-separated:
# virtio,nvme,zns,passthrough; "" for none) names the pairs that may be missing; the default,
# PENDING_DEFAULT below, is empty now that every SEF device is on main. A missing pair not in
# the list, a pending pair that is there, a failed run or a missing result make the exit
# status 1.
#
# --smoke: one VM (file column), one 1-second run of one cell per device, the passthrough pair
# at QD 1 (~1-2 min under TCG); tools/e2e/test_bench_smoke.sh runs it.
#
# Output (in --out DIR, default bench-out/<date>): results.txt (the table), results.json (also
# host, date, versions, git commit), ratios.svg (gnuplot), raw.tsv (every run), logs.
# Exit status: 0 when every available cell was measured; 1 otherwise; 2 on usage errors.
set -euo pipefail

HERE="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
REPO_ROOT="$(cd "$HERE/../.." && pwd)"
RUN_VM="$REPO_ROOT/tools/vm/run_vm.sh"

SMOKE=0
COLUMNS=""
REPEATS=""
RUNTIME=""
OUT=""
DATA_DIR=""
PENDING=""
PENDING_SET=0
TIMEOUT=""
SELECTED="virtio nvme zns passthrough"
usage() { sed -n '2,/^set -euo/p' "$0" | sed '$d; s/^# \{0,1\}//'; }
bad() { echo "devices.sh: $*" >&2; exit 2; }
while [[ $# -gt 0 ]]; do
  case "$1" in
    --smoke) SMOKE=1; shift ;;
    --columns) COLUMNS="${2//,/ }"; shift 2 ;;
    --pairs) SELECTED="${2//,/ }"; shift 2 ;;
    --repeats) REPEATS="$2"; shift 2 ;;
    --runtime) RUNTIME="$2"; shift 2 ;;
    --out) OUT="$2"; shift 2 ;;
    --data-dir) DATA_DIR="$2"; shift 2 ;;
    --pending) PENDING="${2//,/ }"; PENDING_SET=1; shift 2 ;;
    --timeout) TIMEOUT="$2"; shift 2 ;;
    -h|--help) usage; exit 0 ;;
    *) bad "unknown argument '$1' (see --help)" ;;
  esac
done

# The pairs whose SEF device is not on main yet (space-separated), reported as not available
# instead of failing the run. Empty: every SEF device is there, and a missing one fails.
PENDING_DEFAULT=""
[[ $PENDING_SET -eq 1 ]] || PENDING="$PENDING_DEFAULT"
if [[ $SMOKE -eq 1 ]]; then
  : "${COLUMNS:=file}" "${REPEATS:=1}" "${RUNTIME:=1}" "${TIMEOUT:=400}"
  CELLS="rr4k-qd1 pt-qd1"
  READ_MIB=8 WRITE_OFF=64 WRITE_MIB=64 PT_ADUS=256
else
  : "${COLUMNS:=file ram}" "${REPEATS:=3}" "${RUNTIME:=2}" "${TIMEOUT:=1500}"
  CELLS="rr4k-qd1 rr4k-qd32 rw4k-qd1 rw4k-qd32 sw128k-qd8 pt-qd1 pt-qd32"
  READ_MIB=64 WRITE_OFF=128 WRITE_MIB=512 PT_ADUS=4096
fi
for c in $COLUMNS; do [[ $c == file || $c == ram ]] || bad "--columns: '$c' is neither file nor ram"; done
for p in $PENDING; do
  [[ " virtio nvme zns passthrough " == *" $p "* ]] || bad "--pending: unknown pair '$p'"
done
[[ -n "${SELECTED// /}" ]] || bad "--pairs: no pair given (virtio,nvme,zns,passthrough)"
for p in $SELECTED; do
  [[ " virtio nvme zns passthrough " == *" $p "* ]] || bad "--pairs: unknown pair '$p'"
done
# Only the selected pairs' cells: the passthrough pair has the pt-* cells, the others the rest.
selected() { [[ " $SELECTED " == *" $1 "* ]]; }
kept=""
for c in $CELLS; do
  if [[ $c == pt-* ]]; then selected passthrough && kept+=" $c"
  else [[ -n "$(for p in virtio nvme zns; do selected $p && echo y; done)" ]] && kept+=" $c"; fi
done
CELLS="${kept# }"
[[ "$REPEATS" =~ ^[1-9][0-9]*$ ]] || bad "--repeats: '$REPEATS' is not a positive number"
[[ "$RUNTIME" =~ ^[1-9][0-9]*$ ]] || bad "--runtime: '$RUNTIME' is not a positive number"
[[ -z "$DATA_DIR" || "$DATA_DIR" != *[,:]* ]] || bad "--data-dir: '$DATA_DIR' must not contain ',' or ':'"
SIZE_MIB=1024 ZONE_MIB=8

[[ -n "$OUT" ]] || OUT="$REPO_ROOT/bench-out/$(date -u +%Y%m%dT%H%M%SZ)"
mkdir -p "$OUT"
OUT="$(cd "$OUT" && pwd)"
TMP="$(mktemp -d "${TMPDIR:-/tmp}/sef-bench.XXXXXX")"
trap 'rm -rf "$TMP"' EXIT
log() { echo "devices.sh: $*" >&2; }

# --- QEMU, guest, the HAL tool ------------------------------------------------------------------
QEMU="${SEF_QEMU:-}"
if [[ -z "$QEMU" ]]; then
  log "patched QEMU (tools/qemu/build_qemu.sh)..."
  QEMU="$("$REPO_ROOT/tools/qemu/build_qemu.sh" 2>"$OUT/build_qemu.log" | tail -n1)" \
    || { tail -n 30 "$OUT/build_qemu.log" >&2; log "building QEMU failed"; exit 1; }
fi
GUEST="${SEF_GUEST_DIR:-}"
if [[ -z "$GUEST" ]]; then
  GUEST="$("$REPO_ROOT/tools/vm/build_guest.sh" 2>"$OUT/build_guest.log" | tail -n1)" \
    || { tail -n 30 "$OUT/build_guest.log" >&2; log "building the guest failed"; exit 1; }
fi
log "sef_hal_io (bazel build -c opt)..."
(cd "$REPO_ROOT" && bazel build -c opt //tools/sef_hal_io >"$OUT/bazel.log" 2>&1) \
  || { tail -n 30 "$OUT/bazel.log" >&2; log "bazel build failed"; exit 1; }
HAL_IO="$(cd "$REPO_ROOT" && bazel info -c opt bazel-bin 2>/dev/null)/tools/sef_hal_io/sef_hal_io"
[[ -x "$HAL_IO" ]] || { log "no $HAL_IO after the build"; exit 1; }
# The guest sees the host's / read-only: the tool must not live under the host's /tmp.
[[ "$HAL_IO" != /tmp/* ]] || { log "$HAL_IO is under /tmp, which the guest cannot see"; exit 1; }

# --- devices ------------------------------------------------------------------------------------
# dev_args PAIR WHICH UNIT CTRL_UNIT DIR: the QEMU arguments of one device, one per line.
dev_args() {
  local pair="$1" which="$2" unit="$3" ctrl="$4" dir="$5"
  local ns="logical_block_size=4096,physical_block_size=4096"
  case "$pair.$which" in
    virtio.stock) printf '%s\n' -drive "file=$dir/virtio.raw,if=none,id=vstk,format=raw" \
      -device virtio-blk-pci,drive=vstk,serial=bench-vstk ;;
    virtio.sef) printf '%s\n' -drive "driver=sef-aio,file=$unit:1,cache=none,if=none,id=vsef" \
      -device virtio-blk-pci,drive=vsef,serial=bench-vsef ;;
    nvme.stock) printf '%s\n' -drive "file=$dir/nvme.raw,if=none,id=nstk,format=raw" \
      -device nvme,id=nstk0,serial=bench-nstk -device "nvme-ns,drive=nstk,bus=nstk0,nsid=1,$ns" ;;
    nvme.sef) printf '%s\n' -drive "file=$dir/empty-nvme.raw,if=none,id=nsef,format=raw" \
      -device nvme,id=nsef0,serial=bench-nsef \
      -device "nvme-ns,drive=nsef,bus=nsef0,nsid=1,sef=true,sef_unit=$unit,sef_qos_domain=2" ;;
    zns.stock) printf '%s\n' -drive "file=$dir/zns.raw,if=none,id=zstk,format=raw" \
      -device nvme,id=zstk0,serial=bench-zstk \
      -device "nvme-ns,drive=zstk,bus=zstk0,nsid=1,zoned=true,zoned.zone_size=${ZONE_MIB}M,$ns" ;;
    zns.sef) printf '%s\n' -drive "file=$dir/empty-zns.raw,if=none,id=zsef,format=raw" \
      -device nvme,id=zsef0,serial=bench-zsef \
      -device "nvme-ns,drive=zsef,bus=zsef0,nsid=1,sef=true,zoned=true,sef_unit=$unit,sef_qos_domain=3" ;;
    passthrough.sef) printf '%s\n' -device "nvme,id=pctl0,serial=bench-pctl,sef.unit=$ctrl,sef.ns_csi=nvm" ;;
    passthrough.stock) ;;  # the nvme pair's stock namespace
  esac
}

# probe ARGS...: QEMU starts with these devices (and quits at once); else prints its message.
probe() {
  local rc=0
  echo quit | timeout 120 "$QEMU" -S -nodefaults -display none -machine q35 -accel tcg \
    -monitor stdio "$@" >"$TMP/probe.out" 2>"$TMP/probe.err" || rc=$?
  if [[ $rc -ne 0 ]]; then
    grep -v '^$' "$TMP/probe.err" | head -n1 | sed 's/^qemu-system-x86_64: //'
    [[ -s "$TMP/probe.err" ]] || echo "QEMU exited with status $rc"
  fi
}

PAIRS="virtio nvme zns passthrough"
# in_vm PAIR WHICH: whether the device goes into the VM (the nvme pair's stock namespace also
# serves the passthrough pair).
in_vm() { selected "$1" || { [[ $1.$2 == nvme.stock ]] && selected passthrough; }; }
serial_of() { # PAIR WHICH
  case "$1.$2" in
    passthrough.sef) echo sef-ctrl ;; passthrough.stock) echo bench-nstk ;;
    *) echo "bench-${1:0:1}$([[ $2 == sef ]] && echo sef || echo stk)" ;;
  esac
}

# run_column COLUMN: boots one VM with every available device of the column.
run_column() {
  local col="$1"
  local dir="$TMP/$col" unit ctrl data
  mkdir -p "$dir"
  for f in virtio nvme zns; do truncate -s "${SIZE_MIB}M" "$dir/$f.raw"; done
  : >"$dir/empty-nvme.raw"
  : >"$dir/empty-zns.raw"
  if [[ $col == file ]]; then
    data="${DATA_DIR:-$dir/data}"
    mkdir -p "$data"
    printf '{"discover": false}\n' >"$dir/units.json"
    unit=0
    ctrl="model:$REPO_ROOT/testdata/units/default.json:$data/passthrough.sef"
  else
    data="$dir/data"
    printf '{"units": {"1": "model:%s"}, "provision": ["1"], "discover": false}\n' \
      "$REPO_ROOT/testdata/units/default.json" >"$dir/units.json"
    unit=1
    cp "$REPO_ROOT/testdata/units/default.json" "$dir/passthrough.json"  # another RAM unit
    ctrl="model:$dir/passthrough.json"
  fi
  export SEF_UNITS_FILE="$dir/units.json" SEF_DATA_DIR="$data"
  local args=() missing="" pairs="" p which reason a
  for p in $PAIRS; do
    for which in stock sef; do
      in_vm "$p" "$which" || continue
      mapfile -t a < <(dev_args "$p" "$which" "$unit" "$ctrl" "$dir")
      [[ ${#a[@]} -gt 0 ]] || continue
      reason=""
      [[ $which == sef ]] && reason="$(probe "${a[@]}")"
      if [[ -n "$reason" ]]; then
        log "$col: $p $which: not available: $reason"
        printf '%s\tmissing\t%s\t%s\t%s\n' "$col" "$p" "$which" "$reason" >>"$OUT/raw.tsv"
        missing+=" $(serial_of "$p" "$which")"
      else
        args+=("${a[@]}")
      fi
    done
    [[ $p == passthrough ]] || ! selected "$p" || pairs+=" $p:$(serial_of "$p" stock):$(serial_of "$p" sef)"
  done
  log "$col: booting the VM (cells: $CELLS; $REPEATS x ${RUNTIME}s each)"
  local rc=0 t=$SECONDS
  mkdir -p "$OUT/guest-$col"
  "$RUN_VM" --qemu "$QEMU" --guest "$GUEST" --timeout "$TIMEOUT" --out "$OUT/guest-$col" \
    --script "$HERE/guest_bench.sh" \
    --env "BENCH_PAIRS=${pairs# }" --env "BENCH_MISSING=${missing# }" --env "BENCH_CELLS=$CELLS" \
    --env "BENCH_REPEATS=$REPEATS" --env "BENCH_RUNTIME=$RUNTIME" --env "BENCH_READ_MIB=$READ_MIB" \
    --env "BENCH_WRITE_OFF=$WRITE_OFF" --env "BENCH_WRITE_MIB=$WRITE_MIB" \
    --env "BENCH_ZONE_MIB=$ZONE_MIB" --env "BENCH_HAL_IO=$HAL_IO" --env "BENCH_PT_ADUS=$PT_ADUS" \
    --env "BENCH_PT_STOCK=$(selected passthrough && serial_of passthrough stock)" \
    -- "${args[@]}" >"$OUT/guest-$col.log" 2>"$OUT/runner-$col.err" || rc=$?
  log "$col: VM done in $((SECONDS - t)) s (status $rc)"
  grep -E '^bench: (FAILED|.* = /dev/)' "$OUT/guest-$col.log" | sed "s/^/  [$col] /" >&2 || true
  if [[ $rc -ne 0 ]]; then
    tail -n 20 "$OUT/guest-$col.log" "$OUT/runner-$col.err" >&2
    printf '%s\terror\tvm\t-\t-\tthe VM run exited with status %s\n' "$col" "$rc" >>"$OUT/raw.tsv"
  fi
  [[ -f "$OUT/guest-$col/raw.tsv" ]] && sed "s/^/$col\t/" "$OUT/guest-$col/raw.tsv" >>"$OUT/raw.tsv"
  cp "$dir/units.json" "$OUT/units-$col.json"
  unset SEF_UNITS_FILE SEF_DATA_DIR
}

: >"$OUT/raw.tsv"
for col in $COLUMNS; do run_column "$col"; done

# --- results ------------------------------------------------------------------------------------
versions() {
  jq -n --arg host "$(hostname)" --arg date "$(date -u +%Y-%m-%dT%H:%M:%SZ)" \
    --arg qemu "$("$QEMU" --version | head -n1)" --arg qemu_path "$QEMU" \
    --arg kernel "$(cat "$GUEST/info.txt" 2>/dev/null | grep -m1 -i kernel || basename "$GUEST")" \
    --arg host_kernel "$(uname -r)" --arg fio "$(fio --version)" \
    --arg commit "$(git -C "$REPO_ROOT" rev-parse HEAD 2>/dev/null || echo unknown)" \
    --arg dirty "$(git -C "$REPO_ROOT" status --porcelain 2>/dev/null | grep -qv '^??' && echo yes || echo no)" \
    --arg load "$(cut -d' ' -f1-3 /proc/loadavg)" --arg cpus "$(nproc)" \
    --arg command "tools/bench/devices.sh $*" \
    '{host: $host, date: $date, qemu: $qemu, qemu_path: $qemu_path, guest_kernel: $kernel,
      host_kernel: $host_kernel, fio: $fio, git_commit: $commit, uncommitted_changes: $dirty,
      load_average: $load, cpus: ($cpus | tonumber), command: $command, accel: "tcg"}'
}
versions "$@" >"$TMP/meta.json"
"$HERE/report.sh" "$OUT/raw.tsv" "$TMP/meta.json" "$CELLS" "$COLUMNS" "$PENDING" "$OUT" "$SELECTED"
