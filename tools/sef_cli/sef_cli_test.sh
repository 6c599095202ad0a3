#!/usr/bin/env bash
# sef-cli on model units in a temporary directory: every sub-command in text and in JSON,
# unique prefixes, every error path (one line on stderr naming what was wrong, exit 1 when
# the operation failed, 2 for usage), and the checked-in man page and bash completion
# against what the table generates.
set -euo pipefail
cli=tools/sef_cli/sef-cli
io=tools/sef_hal_io/sef_hal_io
T="$(mktemp -d "${TEST_TMPDIR:-/tmp}/sef-cli.XXXXXX")"
trap 'rm -rf "$T"' EXIT
export SEF_UNITS_FILE="$T/units.json" SEF_DATA_DIR="$T/data"
passed=0
fail() { echo "FAIL: $*" >&2; exit 1; }
pass() { passed=$((passed + 1)); }

U="model:testdata/units/tiny.json:$T/tiny.sef"
printf '{"units": {"1": "%s"}, "discover": false}\n' "$U" >"$SEF_UNITS_FILE"

# ok NAME ARGS...: exit 0; stdout in $out.
ok() {
  local name="$1" rc=0
  shift
  out="$("$cli" "$@" 2>"$T/err")" || rc=$?
  [[ $rc -eq 0 ]] || fail "$name: exit $rc: $(cat "$T/err")"
  pass
}
# okj NAME JQ-FILTER ARGS...: exit 0 with --json, and the filter is true of the output.
okj() {
  local name="$1" filter="$2"
  shift 2
  ok "$name" "$@" --json
  jq -e "$filter" <<<"$out" >/dev/null || fail "$name: '$filter' is not true of: $out"
}
# has NAME ERE: the last stdout matches.
has() { grep -qE -- "$2" <<<"$out" || fail "$1: no '$2' in: $out"; pass; }
# fails NAME RC ERE ARGS...: exit RC, nothing on stdout, one line on stderr matching ERE.
fails() {
  local name="$1" want="$2" ere="$3" rc=0 o
  shift 3
  o="$("$cli" "$@" 2>"$T/err")" || rc=$?
  [[ $rc -eq $want ]] || fail "$name: exit $rc, expected $want: $(cat "$T/err")"
  [[ -z "$o" ]] || fail "$name: output on stdout: $o"
  [[ $(wc -l <"$T/err") -eq 1 ]] || fail "$name: not one line on stderr: $(cat "$T/err")"
  grep -qE -- "$ere" "$T/err" || fail "$name: stderr '$(cat "$T/err")' does not match '$ere'"
  pass
}

# --- generated documents, help, usage ---------------------------------------------------------
diff -u tools/sef_cli/sef-cli.1 <("$cli" --man) >&2 ||
  fail "tools/sef_cli/sef-cli.1 differs from sef-cli --man: regenerate it (docs/sef-cli.md)"
diff -u tools/sef_cli/sef-cli.bash <("$cli" --completion bash) >&2 ||
  fail "tools/sef_cli/sef-cli.bash differs from sef-cli --completion bash: regenerate it"
pass
(
  source tools/sef_cli/sef-cli.bash
  COMP_WORDS=(sef-cli create qos-domain --ca)
  COMP_CWORD=3
  _sef_cli
  [[ "${COMPREPLY[*]}" == "--capacity" ]] || exit 1
  COMP_WORDS=(sef-cli draw "")
  COMP_CWORD=2
  _sef_cli
  [[ "${COMPREPLY[*]}" == "virtual-device" ]] || exit 1
  COMP_WORDS=(sef-cli cre)
  COMP_CWORD=1
  _sef_cli
  [[ "${COMPREPLY[*]}" == "create" ]] || exit 1
) || fail "bash completion"
pass
ok help --help
has help "create qos-domain"
has help "report zns"
ok version --version
ok "command help" create qos-domain --help
has "command help" "--capacity CAP"
has "command help" "--unit UNIT"
fails "no arguments" 2 usage
fails "unknown action" 2 "unknown action 'frobnicate'" frobnicate qos-domain
fails "ambiguous action" 2 "action 'l' is ambiguous \(list, label\)" l qos-domain
fails "missing target" 2 "create needs a target" create
fails "target of another action" 2 "draw does not apply to qos-domain" draw qos-domain
fails "unknown option" 2 "unknown option '--bogus'" list qos-domain -u "$U" --bogus
fails "option without value" 2 "--capacity needs a value" create qos-domain -u "$U" --capacity
fails "option twice" 2 "--vd given twice" create qos-domain -u "$U" -v 1 -v 2
fails "bad completion" 2 "bash" --completion zsh

# --- units ------------------------------------------------------------------------------------
ok "unit list" li sef -u "$U"
has "unit list" "^0 +model:.*unit0\.sef +SEFVM"
has "unit list" "^1 +model:testdata/units/tiny.json"
okj "unit list json" '[.units[].unit] == ["0", "1"] and .units[1].info.channels == 2' list sef-unit
ok "unit info" info sef-unit -u 1
has "unit info" "^serial +SEFTINY0001"
okj "unit info json" '.dies == 4 and .banks == 2 and .unit == "1"' info sef-unit -u 1
fails "unknown unit number" 1 "unit 7: no such SEF unit" info sef-unit -u 7
fails "unknown unit spec" 1 "/dev/nvme97" info sef-unit -u /dev/nvme97
fails "missing model config" 1 "no-such\.json" info sef-unit -u model:$T/no-such.json
fails "malformed unit" 1 "unit 'abc'" info sef-unit -u abc

# --- virtual devices --------------------------------------------------------------------------
ok "vd list, none" list virtual-device -u 1
has "vd list, none" "no virtual devices"
fails "vd delete, none" 1 "has no virtual devices" delete virtual-device -u 1
fails "vd create, tiles too big" 2 "tiles of 3 channels x 1 banks do not fit" \
  create virtual-device -u 1 --channels 3 --banks 1
fails "vd create, too many tiles" 2 "--count 5: 4 tiles" \
  create virtual-device -u 1 --channels 1 --banks 1 --count 5
fails "vd create, bad die" 2 "--dies: '9' is not a die" create virtual-device -u 1 --dies 0,9
fails "vd create, both forms" 2 "not both" create virtual-device -u 1 --dies 0 --channels 1 --banks 1
fails "vd create, channels alone" 2 "go together" create virtual-device -u 1 --channels 1
fails "vd create, bad number" 2 "--count 'x' is not a number" \
  create virtual-device -u 1 --channels 1 --banks 1 --count x
okj "vd create by tiles" '[.virtual_devices[].dies] == [[0, 2], [1, 3]]' \
  create virtual-device -u 1 --channels 1 --banks 2 --count 2
fails "vd create, exists" 1 "already has 2 virtual device" create virtual-device -u 1
ok "vd draw" draw virtual-device -u 1
has "vd draw" "^bank 0 +1 +2$"
has "vd draw" "^bank 1 +1 +2$"
okj "vd draw json" '.map == [[1, 2], [1, 2]]' draw virtual-device -u 1
ok "vd list" list virtual-device -u 1
has "vd list" "^1 +2 +2 +64 +1024 "
okj "vd list json" '[.virtual_devices[].id] == [1, 2] and .virtual_devices[0].capacity_adus == 1024' \
  list virtual-device -u 1
ok "vd info" info virtual-device -u 1 -v 2
has "vd info" "^dies +1,3$"
okj "vd info json" '.id == 2 and .dies == [1, 3] and .qos_domains == []' info virtual-device -u 1 --vd 2
fails "vd info, missing" 1 "no virtual device 5" info virtual-device -u 1 -v 5
fails "vd info, no id" 2 "--vd ID is required" info virtual-device -u 1
ok "vd delete" delete virtual-device -u 1
has "vd delete" "deleted 2 virtual device"
okj "vd create from dies" '.virtual_devices == [{"id": 3, "dies": [0, 1, 2, 3]}]' \
  create virtual-device -u 1 --vd 3 --dies 3,2,1,0 --dies-per-sb 2
okj "vd delete json" '.deleted_virtual_devices == [3]' delete virtual-device -u 1
ok "vd create default" create virtual-device -u 1 --dies-per-sb 2
has "vd create default" "virtual device 1 .*dies 0,1,2,3$"

# --- QoS domains ------------------------------------------------------------------------------
ok "domain list, none" list qos-domain -u 1
has "domain list, none" "no QoS domains"
for bad in 12Q 0 5000B 101% -3 1.5G; do
  fails "bad capacity $bad" 2 "--capacity '$bad'" create qos-domain -u 1 --capacity "$bad"
done
fails "capacity above the VD" 1 "create qos-domain on virtual device 1 \(capacity 99999 ADUs\)" \
  create qos-domain -u 1 --capacity 99999
fails "domain on a missing VD" 1 "no virtual device 4" create qos-domain -u 1 -v 4
fails "bad label" 2 "--label '1' is not a label" create qos-domain -u 1 --label 1
fails "bad deadline" 2 "--deadline 'soon'" create qos-domain -u 1 --deadline soon
fails "bad defect strategy" 2 "--defect-strategy 'best'" create qos-domain -u 1 --defect-strategy best
fails "defect strategy the unit lacks" 1 "create qos-domain on virtual device 1 .*sct=0 sc=0x02" \
  create qos-domain -u 1 -c 64 --defect-strategy packed
okj "domain create, percent and label" \
  '.id == 1 and .capacity_adus == 512 and .label == [11, 12] and .max_open_super_blocks == 4' \
  create qos-domain -u 1 -v 1 -c 25% -l "11 12" --max-open-sbs 4 --placement-ids 2
ok "domain create, bytes" create qos-domain -u 1 --capacity 512K --deadline long \
  --program-weight 300 --erase-weight 400
has "domain create, bytes" "created QoS domain 2 on virtual device 1 .*: 128 ADUs$"
fails "duplicate label" 1 "QoS domain 1 .*already has the label \"11 12\"" \
  create qos-domain -u 1 -c 64 -l "11 12"
ok "domain list" list qos-domain -u 1
has "domain list" "^1 +1 +512 +512 +0 +0 +2 +4 +0 +none +11 12$"
has "domain list" "^2 +1 +128 .* -$"
okj "domain list json" '[.qos_domains[].id] == [1, 2] and .qos_domains[1].read_deadline == "long"' \
  list qos-domain -u 1
ok "domain info by label" info qos-domain -u 1 -l "11 12"
has "domain info by label" "^id +1$"
has "domain info by label" "^root_pointer_6 +0x000000000000000b$"
okj "domain info json" '.id == 2 and .program_weight == 300 and .erase_weight == 400' \
  info qos-domain -u 1 -q 2
fails "missing domain" 1 "no QoS domain 9 on model:" info qos-domain -u 1 -q 9
fails "missing label" 1 "no QoS domain .* has the label \"9 9\"" info qos-domain -u 1 -l "9 9"
fails "domain not named" 2 "name the QoS domain by --domain ID or --label" info qos-domain -u 1
fails "domain named twice" 2 "one of them" info qos-domain -u 1 -q 1 -l "11 12"
fails "vd delete with domains" 1 "virtual device 1 .* holds QoS domain\(s\) 1,2: delete them first" \
  delete virtual-device -u 1
ok "resize" resize qos-domain -u 1 -q 2 -c 1M
has "resize" "capacity 256 ADUs, quota 256 ADUs"
okj "resize json, quota" '.capacity_adus == 256 and .quota_adus == 384' \
  resize qos-domain -u 1 -l "11 12" -c 256 --quota 384
okj "resize pslc" '.pslc_capacity_adus == 16' resize qos-domain -u 1 -q 2 -c 16 --pslc
fails "resize too far" 1 "resize QoS domain 2 to 9999 ADUs" resize qos-domain -u 1 -q 2 -c 9999
fails "resize, bad capacity" 2 "--capacity 'lots'" resize qos-domain -u 1 -q 2 -c lots
fails "resize, no capacity" 2 "--capacity CAP is required" resize qos-domain -u 1 -q 2
fails "resize, missing domain" 1 "no QoS domain 8" resize qos-domain -u 1 -q 8 -c 64
ok "label" label qos-domain -u 1 -q 2 -l "21 22"
has "label" "label \"21 22\""
fails "relabel without force" 1 "labelled \"21 22\" already; --force" label qos-domain -u 1 -q 2 -l "23 24"
fails "label of another domain" 1 "already has the label \"11 12\"" \
  label qos-domain -u 1 -q 2 -l "11 12" -f
okj "relabel with force" '.label == [23, 24]' label qos-domain -u 1 -q 2 -l "23 24" -f
fails "label, missing domain" 1 "no QoS domain 9" label qos-domain -u 1 -q 9 -l "1 1"
fails "label, no label" 2 "are required" label qos-domain -u 1 -q 2

# --- zoned namespaces -------------------------------------------------------------------------
fails "zns info, unconfigured" 1 "unconfigured" info zns -u 1 -q 1
fails "zns configure, bad zone size" 1 "zone size" configure zns -u 1 -q 1 --zone-size 3
fails "zns configure, one open SB" 1 "open super block" configure zns -u 1 -q 2
okj "zns configure" '.geometry.zones == 6 and .geometry.zone_size_blocks == 64' \
  configure zns -u 1 -l "11 12"
fails "zns configure again" 1 "zoned" configure zns -u 1 -q 1
ok "zns reconfigure" configure zns -u 1 -q 1 --reformat --zone-size 32
has "zns reconfigure" "zones 6 of 32 blocks \(capacity 32\)"
ok "zns info" info zns -u 1 -q 1 --max-open 2
has "zns info" "at most 2 open"
has "zns info" "^  Empty +6$"
okj "zns info json" '.zones_by_state == {"Empty": 6} and .geometry.max_open_zones == 3' info zns -u 1 -q 1
ok "zns report" report zns -u 1 -q 1 --start 32 --count 2
[[ $(wc -l <<<"$out") -eq 2 ]] || fail "zns report: not 2 zones: $out"
has "zns report" "^  start: 0x000000100, len 0x000100, cap 0x000100, wptr 0x000000 reset:0 non-seq:0, zcond: 1\(em\) \[type: 2\(SEQ_WRITE_REQUIRED\)\]$"
okj "zns report json" '[.zones[].start] == [0, 32, 64, 96, 128, 160] and .zones[0].state == "Empty"' \
  report zns -u 1 -l "11 12"
fails "zns report, bad start" 1 "" report zns -u 1 -q 1 --start 4096
ok "domain list, kinds" list qos-domain -u 1
has "domain list, kinds" "^1 .* zns +11 12$"

# --- format: refused while in use --------------------------------------------------------------
"$io" "$U" write --domain 2 --lba 0 --adus 3 --no-flush >/dev/null || fail "sef_hal_io write"
ok "domain list, foreign" list qos-domain -u 1
has "domain list, foreign" "^2 .* foreign +23 24$"
fails "format in use" 1 "QoS domain 2 .* is in use: 1 super block\(s\) open" format qos-domain -u 1 -q 2
okj "format forced, label kept" '.released_super_blocks == 1 and .label_kept' \
  format qos-domain -u 1 -q 2 --force --relabel
okj "formatted, label kept" '.kind == "none" and .super_blocks == 0 and .label == [23, 24]' \
  info qos-domain -u 1 -q 2
ok "format" format qos-domain -u 1 -l "11 12"
has "format" "formatted QoS domain 1"
okj "formatted" '.kind == "none" and .label == null' info qos-domain -u 1 -q 1
rc=0
err="$(flock "$T/tiny.sef" "$cli" format qos-domain -u 1 -q 1 2>&1 >/dev/null)" || rc=$?
[[ $rc -eq 1 && $(wc -l <<<"$err") -eq 1 && "$err" == *tiny.sef* ]] ||
  fail "format of a unit another process holds: exit $rc: $err"
pass

# --- backup and restore ------------------------------------------------------------------------
# Domain 2 (64-ADU super blocks) gets two full, closed super blocks from sef_hal_io, is backed
# up, formatted and restored; sef_hal_io then reads its data back at the same flash addresses.
"$io" "$U" write --domain 2 --lba 100 --adus 128 --seed 5 >"$T/written.json" || fail "sef_hal_io write"
okj "backup" '[.files[].adus] == [64, 64]' backup qos-domain -u 1 -q 2 --path "$T/bk"
ok "backup, text" backup qos-domain -u 1 -l "23 24" -p "$T/bk2" --prefix x-
has "backup, text" "^super block [0-9]+: 64 ADUs -> $T/bk2/x-sb[0-9]+\.sefbk$"
fails "restore into a domain with data" 1 "restore needs an empty domain" \
  restore qos-domain -u 1 -q 2 --path "$T/bk"
ok "format for restore" format qos-domain -u 1 -q 2 --relabel
okj "restore" '[.super_blocks[] | .from == .to] == [true, true]' \
  restore qos-domain -u 1 -q 2 --path "$T/bk"
"$io" "$U" verify --from-json "$T/written.json" >"$T/verified.json" ||
  fail "restored data does not verify: $(cat "$T/verified.json")"
grep -q '"verified":128' "$T/verified.json" || fail "restored data: $(cat "$T/verified.json")"
pass
fails "backup, no path" 2 "--path DIR is required" backup qos-domain -u 1 -q 2
fails "restore, no files" 1 "no backup files" restore qos-domain -u 1 -q 1 --path "$T"
f="$(ls "$T/bk2"/*.sefbk | head -n 1)"
printf 'X' | dd of="$f" bs=1 seek=5000 conv=notrunc status=none
ok "format for a bad restore" format qos-domain -u 1 -q 2 --relabel
fails "restore, damaged file" 1 "is not a sef-cli backup: record CRC mismatch" \
  restore qos-domain -u 1 -q 2 --path "$T/bk2"
"$io" "$U" write --domain 2 --lba 0 --adus 1 --no-flush >/dev/null || fail "sef_hal_io write"
fails "backup, open super block" 1 "is open; backup needs every super block closed" \
  backup qos-domain -u 1 -q 2 --path "$T/bk3"
ok "format after backup tests" format qos-domain -u 1 -q 2 --relabel --force

# --- the block FTL ------------------------------------------------------------------------------
# Domain 1 (64-ADU super blocks, 4 open) as a zoned namespace first, then grown and formatted as
# a block FTL; sef_hal_io --ftl writes through it; an unclean stop; a corrupted checkpoint.
ok "ftl help" configure ftl --help
has "ftl help" "--overprovisioning PERCENT"
okj "zns for ftl" '.geometry.zones > 0' configure zns -u 1 -q 1
for action in configure info check; do
  fails "ftl $action, zns domain" 1 "QoS domain 1 holds a zoned \(ZNS\) domain; the block FTL does not" \
    "$action" ftl -u 1 -q 1
  fails "ftl $action, missing domain" 1 "no QoS domain 9 on model:" "$action" ftl -u 1 -q 9
  fails "ftl $action, unknown unit" 1 "unit 7: no such SEF unit" "$action" ftl -u 7 -q 1
  fails "ftl $action, no domain" 2 "$action ftl: name the QoS domain" "$action" ftl -u 1
done
ok "format for ftl" format qos-domain -u 1 -q 1 --force
ok "resize for ftl" resize qos-domain -u 1 -q 1 -c 1536
ok "label for ftl" label qos-domain -u 1 -q 1 -l "31 32"
fails "ftl info, unconfigured" 1 "QoS domain 1 is unconfigured" info ftl -u 1 -q 1
fails "ftl check, unconfigured" 1 "QoS domain 1 is unconfigured" check ftl -u 1 -l "31 32"
fails "ftl configure, too little OP" 1 "QoS domain 1 of model:.*: overprovisioning 7 % leaves" \
  configure ftl -u 1 -q 1
fails "ftl configure, bad OP" 2 "--overprovisioning 'lots' is not a percentage" \
  configure ftl -u 1 -q 1 --overprovisioning lots
fails "ftl configure, OP out of range" 1 "outside 0.5..400" configure ftl -u 1 -q 1 --overprovisioning 900
fails "ftl configure, bad interval" 2 "--checkpoint-interval 'x' is not a number" \
  configure ftl -u 1 -q 1 --checkpoint-interval x
fails "ftl configure, one open SB" 1 "QoS domain 2 of model:.*open" configure ftl -u 1 -q 2
okj "ftl configure" \
  '.block_count > 500 and .overprovisioning_percent == 25 and .checkpoint_interval_adus > 0 and .super_blocks.total == 24' \
  configure ftl -u 1 -l "31 32" --overprovisioning 25
fails "ftl configure again" 1 "QoS domain 1 of .* holds a block FTL domain already; --force formats it" \
  configure ftl -u 1 -q 1
fails "ftl configure, bad placement ids" 2 "--placement-ids '0,x': 'x' is not a placement id" \
  configure ftl -u 1 -q 1 -f --placement-ids 0,x
fails "ftl configure, placement id out of range" 1 "placement id 999: QoS domain 1 has" \
  configure ftl -u 1 -q 1 -f --placement-ids 999
ok "ftl reconfigure" configure ftl -u 1 -q 1 --overprovisioning 30% --checkpoint-interval 4096 -f \
  --placement-ids 0
has "ftl reconfigure" "^QoS domain 1 of .* is a block FTL: [0-9]+ blocks of 4096 bytes \([0-9.]+ MiB\), over-provisioning 30%; super blocks: 24, [0-9]+ held, [0-9]+ free; placement ids: 0 \(user writes\)$"
ok "domain list, ftl" list qos-domain -u 1
has "domain list, ftl" "^1 .* ftl +31 32$"
"$io" "$U" write --ftl --domain 1 --lba 0 --adus 200 --seed 9 >"$T/ftl.json" || fail "sef_hal_io write --ftl"
ok "ftl info" info ftl -u 1 -q 1
has "ftl info" "^capacity +[0-9]+ blocks of 4096 bytes"
has "ftl info" "^overprovisioning +30%$"
has "ftl info" "^checkpoint +generation [0-9]+ \(format version 2\), every 4096 flash ADUs$"
has "ftl info" "^host_adus_written +200$"
has "ftl info" "^write_amplification +1\.[0-9]{3}$"
okj "ftl info json" \
  '.stats.host_adus_written == 200 and .write_amplification >= 1 and .overprovisioning_percent == 30 and .stats.free_sbs > 0 and .stats.total_sbs == 24' \
  info ftl -u 1 -l "31 32"
ok "ftl check" check ftl -u 1 -q 1
has "ftl check" "^map: 200 blocks mapped, 200 verified, 0 stale$"
has "ftl check" "^recovery due: no$"
has "ftl check" "^consistent$"
okj "ftl check json" '.consistent and .checkpoint_version == 2 and .placement_ids == [0] and .verified_blocks == 200 and .needs_recovery == false and .problems == [] and .repaired == false' \
  check ftl -u 1 -l "31 32"
# An unclean stop: flushed, but no final checkpoint.
"$io" "$U" write --ftl --domain 1 --lba 300 --adus 50 --seed 9 --no-unmount >/dev/null ||
  fail "sef_hal_io write --ftl --no-unmount"
okj "ftl check, recovery due" '.consistent and .needs_recovery and .verified_blocks == 200' check ftl -u 1 -q 1
ok "ftl check, recovery due, text" check ftl -u 1 -q 1
has "ftl check, recovery due, text" "^recovery due: yes"
okj "ftl check --repair" \
  '.repaired and .recovered_adus == 50 and .needs_recovery == false and .consistent and .verified_blocks == 250 and .problems_before_repair == []' \
  check ftl -u 1 -q 1 --repair
ok "ftl check --repair, text" check ftl -u 1 -q 1 --repair
has "ftl check --repair, text" "^repair: the mount replayed 0 ADUs and 0 trims and wrote a fresh checkpoint; 0 blocks trimmed; before the repair: consistent$"
"$io" "$U" verify --from-json "$T/ftl.json" >"$T/ftl-verified.json" ||
  fail "data written through the FTL does not verify: $(cat "$T/ftl-verified.json")"
grep -q '"verified":200' "$T/ftl-verified.json" || fail "ftl verify: $(cat "$T/ftl-verified.json")"
pass
# In use: another process holds the unit.
rc=0
err="$(flock "$T/tiny.sef" "$cli" check ftl -u 1 -q 1 2>&1 >/dev/null)" || rc=$?
[[ $rc -eq 1 && $(wc -l <<<"$err") -eq 1 && "$err" == *tiny.sef* ]] ||
  fail "ftl check of a unit another process holds: exit $rc: $err"
pass
# A corrupted checkpoint header (every copy of it in the backing file): check lists the problem
# on stdout and exits 1 with one line on stderr; a repair cannot rebuild it; a forced
# configure formats the domain again.
for off in $(grep -obUaP 'SFTLCKP1' "$T/tiny.sef" | cut -d: -f1); do
  printf 'X' | dd of="$T/tiny.sef" bs=1 seek=$((off + 120)) conv=notrunc status=none
done
rc=0
out="$("$cli" check ftl -u 1 -q 1 2>"$T/err")" || rc=$?
[[ $rc -eq 1 ]] || fail "ftl check, corrupt: exit $rc"
grep -qE "^  - the checkpoint header at 0x[0-9a-f]+ fails its CRC$" <<<"$out" ||
  fail "ftl check, corrupt: $out"
[[ $(wc -l <"$T/err") -eq 1 ]] && grep -q "check ftl: QoS domain 1 of .*: 1 problem(s): the checkpoint header" "$T/err" ||
  fail "ftl check, corrupt: stderr: $(cat "$T/err")"
pass
rc=0
out="$("$cli" check ftl -u 1 -q 1 --json 2>/dev/null)" || rc=$?
[[ $rc -eq 1 ]] && jq -e '.consistent == false and (.problems | length) == 1' <<<"$out" >/dev/null ||
  fail "ftl check --json, corrupt: exit $rc: $out"
pass
fails "ftl check --repair, corrupt" 1 "QoS domain 1: the checkpoint header at 0x[0-9a-f]+ fails its CRC" \
  check ftl -u 1 -q 1 --repair
fails "ftl info, corrupt" 1 "fails its CRC" info ftl -u 1 -q 1
okj "ftl configure over a corrupt FTL" '.block_count > 0' configure ftl -u 1 -q 1 --overprovisioning 25 -f
okj "ftl check after reformat" '.consistent and .mapped_blocks == 0' check ftl -u 1 -q 1

# --- delete ------------------------------------------------------------------------------------
okj "domain delete" '.deleted_qos_domain == 1' delete qos-domain -u 1 -q 1
ok "domain delete by label" delete qos-domain -u 1 -l "23 24"
has "domain delete by label" "deleted QoS domain 2"
fails "domain delete, missing" 1 "no QoS domain 1" delete qos-domain -u 1 -q 1
ok "vd delete, empty" delete virtual-device -u 1
okj "vd list json, none" '.virtual_devices == []' list virtual-device -u 1
okj "domain list json, none" '.qos_domains == []' list qos-domain -u 1

echo "sef_cli_test: $passed passed, 0 failed"
