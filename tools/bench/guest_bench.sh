#!/bin/bash
# The guest half of tools/bench/devices.sh (runs inside the VM, as root, chrooted into the
# host's root over 9p; see docs/performance.md). Not meant to be run by hand.
#
# Environment (from devices.sh through run_vm.sh --env):
#   BENCH_PAIRS     space-separated pairs "cell-group:stock-serial:sef-serial", e.g.
#                   "virtio:bench-vstk:bench-vsef nvme:bench-nstk:bench-nsef zns:bench-zstk:bench-zsef"
#   BENCH_MISSING   space-separated serials QEMU was not given (reported, never measured)
#   BENCH_CELLS     cells to run (rr4k-qd1 rr4k-qd32 rw4k-qd1 rw4k-qd32 sw128k-qd8 pt-qd1 pt-qd32)
#   BENCH_REPEATS   repeats per cell and device
#   BENCH_RUNTIME   seconds per fio run
#   BENCH_READ_MIB  MiB written once at offset 0 and read by the random-read cells
#   BENCH_WRITE_OFF / BENCH_WRITE_MIB   the write cells' range (MiB)
#   BENCH_ZONE_MIB  zone size of the zoned devices (MiB)
#   BENCH_HAL_IO    path of sef_hal_io (the passthrough cells' SEF side)
#   BENCH_PT_ADUS   ADUs bench-read writes and then reads
#   BENCH_PT_STOCK  serial of the passthrough pair's stock namespace (the nvme pair's stock
#                   one; set up here when the nvme pair itself is not run)
#
# Output: $SEF_OUT/raw.tsv, one line per run: cell group device(stock|sef) repeat iops mib_s,
# and "missing" lines (group device reason); progress on stdout.
set -u
RAW="$SEF_OUT/raw.tsv"
: >"$RAW"
say() { echo "bench: $*"; }

# dev_by_serial SERIAL: the block device (virtio or NVMe namespace 1) with that serial.
dev_by_serial() {
  local d c
  for d in /sys/block/vd*; do
    [[ -e "$d/serial" && "$(cat "$d/serial")" == "$1" ]] && { echo "/dev/${d##*/}"; return; }
  done
  for c in /sys/class/nvme/nvme*; do
    if [[ "$(tr -d ' ' <"$c/serial")" == "$1" ]]; then
      d="$(ls -d "$c"/nvme*n1 2>/dev/null | head -n1)"
      [[ -n "$d" ]] && echo "/dev/${d##*/}"
      return
    fi
  done
}

# The emulated SEF controller: the NVMe controller whose serial is none of ours.
sef_ctrl() {
  local c
  for c in /sys/class/nvme/nvme*; do
    [[ "$(tr -d ' ' <"$c/serial")" == bench-* ]] || { echo "/dev/${c##*/}"; return; }
  done
}

# fio_run NAME DEV ARGS...: one fio run, JSON into a file; prints "iops mib_s" of the
# direction that moved data (or "fail" and the error).
fio_run() {
  local name="$1" dev="$2" out="/tmp/fio-$1.json"
  shift 2
  if ! fio --name="$name" --filename="$dev" --output-format=json --output="$out" "$@" \
      >/tmp/fio.err 2>&1; then
    echo "fail $(tr '\n' ' ' </tmp/fio.err | cut -c1-300)"
    return
  fi
  jq -r '.jobs[0] | if .write.io_bytes > 0 then .write else .read end
         | "\(.iops) \(.bw / 1024)"' "$out"
}

is_zoned() { [[ "$(cat "/sys/block/${1##*/}/queue/zoned" 2>/dev/null)" == host-managed ]]; }

# cell_args CELL DEV: fio options of a cell on DEV.
cell_args() {
  local cell="$1" dev="$2" zbd=()
  is_zoned "$dev" && zbd=(--zonemode=zbd --max_open_zones=8)
  local common=(--direct=1 --ioengine=libaio --time_based --runtime="$BENCH_RUNTIME" --eta=never
                --norandommap --randrepeat=0)
  case "$cell" in
    rr4k-qd1) echo "${common[*]} ${zbd[*]} --rw=randread --bs=4k --iodepth=1 --offset=0 --size=${BENCH_READ_MIB}M" ;;
    rr4k-qd32) echo "${common[*]} ${zbd[*]} --rw=randread --bs=4k --iodepth=32 --offset=0 --size=${BENCH_READ_MIB}M" ;;
    rw4k-qd1) echo "${common[*]} ${zbd[*]} --rw=randwrite --bs=4k --iodepth=1 --offset=${BENCH_WRITE_OFF}M --size=${BENCH_WRITE_MIB}M" ;;
    rw4k-qd32) echo "${common[*]} ${zbd[*]} --rw=randwrite --bs=4k --iodepth=32 --offset=${BENCH_WRITE_OFF}M --size=${BENCH_WRITE_MIB}M" ;;
    sw128k-qd8) echo "${common[*]} ${zbd[*]} --rw=write --bs=128k --iodepth=8 --offset=${BENCH_WRITE_OFF}M --size=${BENCH_WRITE_MIB}M" ;;
  esac
}

record() { # CELL GROUP WHICH REPEAT RESULT
  local r="$5"
  if [[ "$r" == fail* ]]; then
    say "FAILED $1 $2 $3 #$4: $r"
    printf 'error\t%s\t%s\t%s\t%s\n' "$1" "$2" "$3" "${r#fail }" >>"$RAW"
  else
    say "$1 $2 $3 #$4: $r"
    printf 'run\t%s\t%s\t%s\t%s\t%s\n' "$1" "$2" "$3" "$4" "${r// /	}" >>"$RAW"
  fi
}

declare -A DEV
for pair in $BENCH_PAIRS; do
  IFS=: read -r group stock sef <<<"$pair"
  for which in stock sef; do
    serial="$stock"; [[ $which == sef ]] && serial="$sef"
    [[ " $BENCH_MISSING " == *" $serial "* ]] && continue
    d="$(dev_by_serial "$serial")"
    if [[ -z "$d" ]]; then
      say "FAILED: no device with serial $serial in the guest"
      printf 'error\tsetup\t%s\t%s\tno device with serial %s in the guest\n' "$group" "$which" "$serial" >>"$RAW"
      continue
    fi
    DEV[$group.$which]="$d"
    # Zoned devices: mq-deadline keeps writes in order at QD > 1 (fio requires it).
    is_zoned "$d" && echo mq-deadline >"/sys/block/${d##*/}/queue/scheduler"
    say "$group $which = $d ($(lsblk -dnbo SIZE "$d") bytes, zoned $(cat "/sys/block/${d##*/}/queue/zoned"))"
    printf 'device\t%s\t%s\t%s\t%s\n' "$group" "$which" "$d" "$(lsblk -dnbo SIZE "$d")" >>"$RAW"
    # The random-read region, written once.
    is_zoned "$d" && blkzone reset -o 0 -l $((BENCH_READ_MIB * 2048)) "$d"
    # shellcheck disable=SC2046  # no word at all when the device is not zoned
    r="$(fio_run pre "$d" --direct=1 --ioengine=libaio --rw=write --bs=128k --iodepth=8 \
         --offset=0 --size="${BENCH_READ_MIB}M" $(is_zoned "$d" && echo --zonemode=zbd))"
    [[ "$r" == fail* ]] && record precondition "$group" "$which" 0 "$r"
  done
done

for cell in $BENCH_CELLS; do
  [[ $cell == pt-* ]] && continue
  for pair in $BENCH_PAIRS; do
    group="${pair%%:*}"
    for rep in $(seq 1 "$BENCH_REPEATS"); do
      for which in stock sef; do  # interleaved: A B A B ...
        d="${DEV[$group.$which]:-}"
        [[ -n "$d" ]] || continue
        # shellcheck disable=SC2046
        record "$cell" "$group" "$which" "$rep" "$(fio_run "$cell" "$d" $(cell_args "$cell" "$d"))"
      done
    done
  done
done

# Passthrough: fio's io_uring_cmd on the stock namespace's /dev/ngXnY next to the HAL's
# io_uring uring_cmd reads on the emulated SEF controller.
pt_cells=""
for cell in $BENCH_CELLS; do [[ $cell == pt-* ]] && pt_cells+=" $cell"; done
if [[ -n "$pt_cells" ]]; then
  stock_ng=""
  if [[ -z "${DEV[nvme.stock]:-}" && -n "${BENCH_PT_STOCK:-}" ]]; then
    # The nvme pair was not run: find its stock namespace and write the region read below.
    d="$(dev_by_serial "$BENCH_PT_STOCK")"
    if [[ -z "$d" ]]; then
      say "FAILED: no device with serial $BENCH_PT_STOCK in the guest"
      printf 'error\tsetup\tpassthrough\tstock\tno device with serial %s in the guest\n' "$BENCH_PT_STOCK" >>"$RAW"
    else
      DEV[nvme.stock]="$d"
      r="$(fio_run pre "$d" --direct=1 --ioengine=libaio --rw=write --bs=128k --iodepth=8 \
           --offset=0 --size="$((BENCH_PT_ADUS * 4))k")"
      [[ "$r" == fail* ]] && record precondition passthrough stock 0 "$r"
    fi
  fi
  [[ -n "${DEV[nvme.stock]:-}" ]] && stock_ng="${DEV[nvme.stock]/nvme/ng}"
  ctrl=""
  [[ " $BENCH_MISSING " == *" sef-ctrl "* ]] || ctrl="$(sef_ctrl)"
  if [[ -n "$ctrl" ]]; then
    "$BENCH_HAL_IO" "$ctrl" setup --reset --domain-capacity-adus 65536 >/tmp/setup.json 2>/tmp/setup.err \
      || { say "FAILED: sef_hal_io setup: $(cat /tmp/setup.err)"; ctrl=""; }
    domain="$(jq -r .domain /tmp/setup.json 2>/dev/null)"
    printf 'device\tpassthrough\tsef\t%s\t%s\n' "$ctrl" "$((65536 * 4096))" >>"$RAW"
  fi
  [[ -n "$stock_ng" ]] && printf 'device\tpassthrough\tstock\t%s\t%s\n' "$stock_ng" "$(lsblk -dnbo SIZE "${DEV[nvme.stock]}")" >>"$RAW"
  for cell in $pt_cells; do
    qd="${cell#pt-qd}"
    for rep in $(seq 1 "$BENCH_REPEATS"); do
      if [[ -n "$stock_ng" ]]; then
        record "$cell" passthrough stock "$rep" "$(fio_run "$cell" "$stock_ng" --ioengine=io_uring_cmd \
          --cmd_type=nvme --direct=0 --rw=randread --bs=4k --iodepth="$qd" --offset=0 \
          --size="$((BENCH_PT_ADUS * 4))k" --time_based --runtime="$BENCH_RUNTIME" --norandommap \
          --randrepeat=0 --eta=never)"
      fi
      if [[ -n "$ctrl" ]]; then
        if "$BENCH_HAL_IO" "$ctrl" bench-read --domain "$domain" --adus "$BENCH_PT_ADUS" \
            --seconds "$BENCH_RUNTIME" --qd "$qd" --seed "$rep" >/tmp/pt.json 2>/tmp/pt.err; then
          record "$cell" passthrough sef "$rep" "$(jq -r '"\(.iops) \(.mib_s)"' /tmp/pt.json)"
        else
          record "$cell" passthrough sef "$rep" "fail $(cat /tmp/pt.err)"
        fi
      fi
    done
  done
fi
say "done"
