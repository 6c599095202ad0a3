#!/usr/bin/env bash
# E2E: the guest I/O benchmark's smoke mode (tools/bench/devices.sh --smoke; docs/performance.md):
# one VM on the embedded default unit in a temporary SEF_DATA_DIR with every device pair, one
# 1-second cell per device and the passthrough pair at QD 1. Checks that every available cell
# has a number on both sides and a ratio, that the table, the JSON and the chart are written,
# and (devices.sh's own check) that exactly the pairs listed as pending are missing: none since
# the block FTL's devices landed (devices.sh's PENDING_DEFAULT is empty), so a missing SEF
# device fails this test. SEF_BENCH_PENDING overrides the list.
set -euo pipefail
source "$(dirname "$0")/lib.sh"

# devices.sh's own list (PENDING_DEFAULT) unless SEF_BENCH_PENDING is set.
PENDING="${SEF_BENCH_PENDING-$(sed -n 's/^PENDING_DEFAULT="\(.*\)"$/\1/p' "$REPO_ROOT/tools/bench/devices.sh" | tr ' ' ',')}"
rc=0
"$REPO_ROOT/tools/bench/devices.sh" --smoke --pending "$PENDING" --out "$E2E_TMP/out" \
  >"$E2E_TMP/table.txt" 2>"$E2E_TMP/bench.err" || rc=$?
show "$E2E_TMP/bench.err"
show "$E2E_TMP/table.txt"
R="$E2E_TMP/out/results.json"
check "devices.sh --smoke exited 0 (got $rc)" test "$rc" -eq 0
check "results.json written with versions and commit" \
  bash -c "jq -e '.qemu and .fio and .git_commit and .guest_kernel and (.results | length) > 0' '$R' >/dev/null"
check "no problems reported" bash -c "jq -e '.problems == []' '$R' >/dev/null"
for pair in virtio nvme zns passthrough; do
  if [[ ",$PENDING," == *",$pair,"* ]]; then
    check "$pair: pending, reported as not available with QEMU's reason" \
      bash -c "jq -e '[.results[] | select(.pair == \"$pair\")] | all(.sef.status == \"not available\" and (.sef.reason | length) > 0)' '$R' >/dev/null"
    check "$pair: the table says not available" has "$E2E_TMP/table.txt" "^file $pair: not available: .+"
  else
    check "$pair: stock and SEF measured, a ratio > 0" \
      bash -c "jq -e '[.results[] | select(.pair == \"$pair\")] | length > 0 and all(.stock.iops > 0 and .sef.iops > 0 and .ratio > 0)' '$R' >/dev/null"
  fi
done
check "the stock side of every pair measured" \
  bash -c "jq -e 'all(.results[]; .stock.status == \"ok\" and .stock.iops > 0)' '$R' >/dev/null"
check "the chart is an SVG" has "$E2E_TMP/out/ratios.svg" '<svg'
e2e_done
