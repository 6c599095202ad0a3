#!/usr/bin/env bash
# sef_hal_probe on the default model unit (--json must be one valid JSON document with the
# geometry and the QoS domains), its text form, and a missing device (one line, non-zero).
set -euo pipefail
probe=tools/sef_hal_probe/sef_hal_probe
fail() { echo "FAIL: $*" >&2; exit 1; }

json=$("$probe" model:testdata/units/default.json --json)
# python3 is not assumed; check the JSON with the probe's own library-free means: jq if
# present, else a structural grep.
if command -v jq >/dev/null; then
  [[ $(jq -r '.geometry.dies' <<<"$json") == 16 ]] || fail "geometry.dies"
  [[ $(jq -r '.geometry.channels' <<<"$json") == 4 ]] || fail "geometry.channels"
  [[ $(jq -r '.qos_domains | type' <<<"$json") == array ]] || fail "qos_domains"
  [[ $(jq -r '.unit.capabilities | index("perfect")' <<<"$json") != null ]] || fail "capabilities"
else
  grep -q '"dies": 16' <<<"$json" || fail "geometry.dies in: $json"
  grep -q '"qos_domains": \[\]' <<<"$json" || fail "qos_domains in: $json"
  grep -q '"perfect"' <<<"$json" || fail "capabilities in: $json"
fi

text=$("$probe" model:testdata/units/tiny.json)
grep -q '2 channels x 2 banks = 4 dies' <<<"$text" || fail "text geometry: $text"
grep -q 'QoS domains     0' <<<"$text" || fail "text domains: $text"

set +e
err=$("$probe" /dev/nvme97 2>&1 >/dev/null); rc=$?
set -e
[[ $rc -ne 0 ]] || fail "missing device exited 0"
[[ $(wc -l <<<"$err") -eq 1 ]] || fail "expected one line on stderr, got: $err"
grep -q '/dev/nvme97' <<<"$err" || fail "message does not name the device: $err"

set +e
"$probe" >/dev/null 2>&1; rc=$?
set -e
[[ $rc -eq 2 ]] || fail "usage error exit $rc"
echo "sef_hal_probe_test: 4 passed, 0 failed"
