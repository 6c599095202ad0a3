#!/usr/bin/env bash
# sef_hal_io on a tiny model unit with a backing file: setup, write, then verify in a second
# process (the backing file carries the data), a wrong seed and a wrong LBA (exit 1, one line),
# a missing unit (exit 1, one line) and usage errors (exit 2); then the same through the block
# FTL (--ftl) of a domain sef-cli formats, with an unclean stop (--no-unmount) replayed.
set -euo pipefail
io=tools/sef_hal_io/sef_hal_io
unit="model:testdata/units/tiny.json:$TEST_TMPDIR/u.sef"
fail() { echo "FAIL: $*" >&2; exit 1; }
passed=0
ok() { passed=$((passed + 1)); }
run() { # EXPECTED-STATUS ARGS...: runs the tool; stdout in $out, stderr in $err
  local want="$1" rc=0
  shift
  "$io" "$@" >"$TEST_TMPDIR/out" 2>"$TEST_TMPDIR/err" || rc=$?
  out=$(cat "$TEST_TMPDIR/out")
  err=$(cat "$TEST_TMPDIR/err")
  [[ $rc -eq $want ]] || fail "sef_hal_io $*: exit $rc, want $want; stdout: $out; stderr: $err"
}
one_line() { # WHAT ERE: stderr is one line matching ERE
  [[ $(wc -l <<<"$err") -eq 1 && -n "$err" ]] || fail "$1: want one line on stderr, got: $err"
  grep -Eq -e "$2" <<<"$err" || fail "$1: stderr does not match /$2/: $err"
}

run 0 "$unit" setup --domain-capacity-adus 512
grep -q '"domain":1' <<<"$out" && grep -q '"created":true' <<<"$out" || fail "setup: $out"
run 0 "$unit" setup --domain-capacity-adus 512
grep -q '"domain":1' <<<"$out" && grep -q '"created":false' <<<"$out" || fail "setup again: $out"
run 0 "$unit" setup --domain-capacity-adus 256 --new
grep -q '"domain":2' <<<"$out" && grep -q '"created":true' <<<"$out" || fail "setup --new: $out"
run 0 "$unit" setup --domain-capacity-adus 512 --reset
grep -q '"domain":1' <<<"$out" && grep -q '"created":true' <<<"$out" \
  && grep -q '"capacity_adus":512' <<<"$out" || fail "setup --reset: $out"
ok

run 0 "$unit" write --domain 1 --lba 1000 --adus 12 --seed 42
echo "$out" >"$TEST_TMPDIR/write.json"
[[ $(grep -o '"0x0001[0-9a-f]\{12\}"' <<<"$out" | sort -u | wc -l) -eq 12 ]] \
  || fail "write: want 12 distinct addresses in domain 1: $out"
grep -q '"lba":1000' <<<"$out" && grep -q '"seed":42' <<<"$out" || fail "write: $out"
ok

# Another process: the data comes from the backing file.
run 0 "$unit" verify --from-json "$TEST_TMPDIR/write.json"
grep -q '"verified":12' <<<"$out" && grep -q '"mismatches":0' <<<"$out" \
  && grep -q '"errors":0' <<<"$out" || fail "verify: $out"
[[ -z "$err" ]] || fail "verify wrote to stderr: $err"
first=$(grep -o '"0x[0-9a-f]*"' "$TEST_TMPDIR/write.json" | head -n1 | tr -d '"')
run 0 "$unit" verify --domain 1 --lba 1000 --seed 42 --address "$first"
grep -q '"verified":1' <<<"$out" || fail "verify one address: $out"
ok

run 1 "$unit" verify --from-json "$TEST_TMPDIR/write.json" --seed 43
grep -q '"verified":0' <<<"$out" && grep -q '"mismatches":12' <<<"$out" || fail "wrong seed: $out"
one_line "wrong seed" "LBA 1000 at $first: data differs.*12 of 12"
ok

run 1 "$unit" verify --from-json "$TEST_TMPDIR/write.json" --lba 2000
grep -q '"errors":12' <<<"$out" || fail "wrong LBA: $out"
one_line "wrong LBA" "LBA 2000 at $first: read failed: .*12 of 12"
ok

run 1 /dev/nvme97 verify --from-json "$TEST_TMPDIR/write.json"
one_line "missing unit" '/dev/nvme97'
run 1 "model:testdata/units/tiny.json:$TEST_TMPDIR/other.sef" write --domain 1 --lba 0 --adus 1
one_line "missing domain" 'open QoS domain 1'
ok

# bench-read: writes, then reads for a second at QD 4 (the model completes on the caller).
run 0 "$unit" bench-read --domain 1 --adus 100 --seconds 1 --qd 4
grep -q '"qd":4' <<<"$out" && grep -q '"errors":0' <<<"$out" \
  && grep -Eq '"reads":[1-9][0-9]*' <<<"$out" && grep -Eq '"iops":[0-9.e+]+' <<<"$out" \
  || fail "bench-read: $out"
grep -q '"form":"chained"' <<<"$out" || fail "bench-read at QD 4 is chained by default: $out"
# The other forms: sync (QD 1's default) and async, at QD 1 and 4.
run 0 "$unit" bench-read --domain 1 --adus 100 --seconds 1
grep -q '"form":"sync"' <<<"$out" && grep -Eq '"reads":[1-9][0-9]*' <<<"$out" \
  || fail "bench-read at QD 1: $out"
for args in "--qd 1 --form async" "--qd 4 --form async" "--qd 1 --form chained"; do
  # shellcheck disable=SC2086
  run 0 "$unit" bench-read --domain 1 --adus 100 --seconds 1 $args
  grep -q "\"form\":\"${args##* }\"" <<<"$out" && grep -Eq '"reads":[1-9][0-9]*' <<<"$out" \
    && grep -q '"errors":0' <<<"$out" || fail "bench-read $args: $out"
done
run 2 "$unit" bench-read --domain 1 --adus 100 --seconds 1 --qd 2 --form sync
one_line "bench-read --form sync at QD 2" 'needs --qd 1'
run 2 "$unit" bench-read --domain 1 --adus 100 --seconds 1 --form fast
one_line "bench-read --form fast" "sync, chained or async, not 'fast'"
run 2 "$unit" bench-read --domain 1 --adus 100 --seconds 0
one_line "bench-read --seconds 0" 'at least 1'
run 1 "$unit" bench-read --domain 9 --adus 1 --seconds 1
one_line "bench-read on a missing domain" 'open QoS domain 9'
ok

run 2 "$unit"
one_line "no command" 'usage|command'
run 2 "$unit" write --domain 1 --lba 0
one_line "missing --adus" 'needs --adus'
run 2 "$unit" verify --from-json "$TEST_TMPDIR/none.json"
one_line "missing JSON file" 'none\.json'
run 2 "$unit" write --domain 1 --lba x --adus 1
one_line "bad number" "--lba: 'x'"
run 0 --help
grep -q '^usage: sef_hal_io' <<<"$out" || fail "--help: $out"
ok
# --- through the block FTL ---------------------------------------------------------------------
cli=tools/sef_cli/sef-cli
export SEF_UNITS_FILE="$TEST_TMPDIR/units.json" SEF_DATA_DIR="$TEST_TMPDIR/data"
echo '{"discover": false}' >"$SEF_UNITS_FILE"
fu="model:testdata/units/tiny.json:$TEST_TMPDIR/ftl.sef"
"$cli" create virtual-device -u "$fu" --dies-per-sb 1 >/dev/null
"$cli" create qos-domain -u "$fu" --capacity 50% --max-open-sbs 4 >/dev/null
run 1 "$fu" write --ftl --domain 1 --lba 0 --adus 1
one_line "unconfigured" "mount the block FTL of QoS domain 1: .*unconfigured"
"$cli" configure ftl -u "$fu" -q 1 --overprovisioning 20 >/dev/null
run 0 "$fu" write --ftl --domain 1 --lba 5 --adus 300 --seed 3
echo "$out" >"$TEST_TMPDIR/ftl.json"
grep -q '"ftl":true' <<<"$out" && grep -q '"unmounted":true' <<<"$out" || fail "write --ftl: $out"
run 0 "$fu" verify --from-json "$TEST_TMPDIR/ftl.json"
grep -q '"verified":300' <<<"$out" && grep -q '"mismatches":0' <<<"$out" || fail "verify --ftl: $out"
run 0 "$fu" verify --ftl --domain 1 --lba 105 --adus 200 --seed 3
grep -q '"verified":200' <<<"$out" || fail "verify --ftl, part: $out"
ok
run 1 "$fu" verify --from-json "$TEST_TMPDIR/ftl.json" --seed 4
grep -q '"mismatches":300' <<<"$out" || fail "verify --ftl, wrong seed: $out"
one_line "ftl, wrong seed" "QoS domain 1 block 5 \(FTL\): data differs from seed 4's pattern.*300 of 300"
run 1 "$fu" verify --ftl --domain 1 --lba 0 --adus 5 --seed 3
one_line "ftl, never written" "block 0 \(FTL\): data differs.*5 of 5"
ok
# An unclean stop after the flush: the next mount replays, the data is there.
run 0 "$fu" write --ftl --domain 1 --lba 400 --adus 20 --seed 8 --no-unmount
grep -q '"unmounted":false' <<<"$out" || fail "write --ftl --no-unmount: $out"
run 0 "$fu" verify --ftl --domain 1 --lba 400 --adus 20 --seed 8
grep -q '"verified":20' <<<"$out" || fail "verify after an unclean stop: $out"
ok
run 1 "$fu" write --ftl --domain 1 --lba 630 --adus 100
one_line "ftl, beyond the end" "beyond the device's [0-9]+ blocks"
run 1 "$fu" write --ftl --domain 2 --lba 0 --adus 1
one_line "ftl, missing domain" "mount the block FTL of QoS domain 2"
run 2 "$fu" write --ftl --domain 1 --lba 0 --adus 1 --no-flush
one_line "ftl, --no-flush" "do not apply with --ftl"
run 2 "$fu" verify --ftl --domain 1 --lba 0 --address 0x1
one_line "ftl, --address" "--address does not apply with --ftl"
run 2 "$fu" verify --ftl --domain 1 --lba 0
one_line "ftl, no count" "verify --ftl needs --adus"
ok
echo "sef_hal_io_test: $passed passed, 0 failed"
