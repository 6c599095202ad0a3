#!/usr/bin/env bash
# The results half of tools/bench/devices.sh: turns raw.tsv (every run) into the table
# (results.txt), the JSON (results.json) and the chart (ratios.svg, gnuplot). Also usable on a
# kept raw.tsv:
#
#   tools/bench/report.sh RAW.TSV META.JSON "CELLS" "COLUMNS" "PENDING PAIRS" OUT_DIR ["PAIRS"]
#
# PAIRS: the pairs that were run (default all four: virtio nvme zns passthrough).
# raw.tsv lines (tab-separated), each starting with the column (file|ram):
#   run CELL PAIR stock|sef REPEAT IOPS MIB_S      device PAIR stock|sef PATH BYTES
#   missing PAIR stock|sef REASON                  error CELL|vm|setup PAIR WHICH REASON
# A cell's value is the median of its repeats; ratio = SEF / stock (IOPS).
# Exit status 1 when a run failed, an expected result is missing, a pair not listed as pending
# is missing, or a pending pair is there (the list must then be updated); else 0.
set -euo pipefail
RAW="$1" META="$2" CELLS="$3" COLUMNS="$4" PENDING="$5" OUT="$6" PAIRS="${7:-virtio nvme zns passthrough}"

jq -n --rawfile raw "$RAW" --slurpfile meta "$META" --arg cells "$CELLS" --arg columns "$COLUMNS" \
  --arg pending "$PENDING" --arg pairs "$PAIRS" '
  def median: sort | if length == 0 then null
    elif length % 2 == 1 then .[length / 2 | floor]
    else (.[length / 2 - 1] + .[length / 2]) / 2 end;
  ($raw | split("\n") | map(select(length > 0) | split("\t"))) as $rows
  | ($cells | split(" ") | map(select(length > 0))) as $cells
  | ($columns | split(" ") | map(select(length > 0))) as $columns
  | ($pending | split(" ") | map(select(length > 0))) as $pending
  | ($pairs | split(" ") | map(select(length > 0))) as $pairs
  | def side($col; $cell; $pair; $which):
      ($rows | map(select(.[0] == $col and .[1] == "run" and .[2] == $cell and .[3] == $pair
                          and .[4] == $which))) as $runs
      | ($rows | map(select(.[0] == $col and .[1] == "missing" and .[2] == $pair
                            and .[3] == $which)) | first) as $missing
      | ($rows | map(select(.[0] == $col and .[1] == "error" and (.[2] == $cell or .[2] == "vm"
                            or .[2] == "setup" or .[2] == "precondition")
                            and (.[3] == $pair or .[3] == "-") and (.[4] == $which or .[4] == "-")))
         | first) as $error
      | if $missing != null then {status: "not available", reason: $missing[4]}
        elif $error != null then {status: "failed", reason: $error[5]}
        elif ($runs | length) == 0 then {status: "failed", reason: "no result"}
        else {status: "ok", repeats: ($runs | length),
              iops: ($runs | map(.[6] | tonumber) | median),
              mib_s: ($runs | map(.[7] | tonumber) | median),
              runs_iops: ($runs | map(.[6] | tonumber))} end;
    def device($col; $pair; $which):
      $rows | map(select(.[0] == $col and .[1] == "device" and .[2] == $pair and .[3] == $which))
      | first | if . == null then null else {path: .[4], bytes: (.[5] | tonumber)} end;
    [ $columns[] as $col | $pairs[] as $pair | $cells[]
      | select((startswith("pt-")) == ($pair == "passthrough")) as $cell
      | {column: $col, pair: $pair, cell: $cell,
         stock: side($col; $cell; $pair; "stock"), sef: side($col; $cell; $pair; "sef"),
         stock_device: device($col; $pair; "stock"), sef_device: device($col; $pair; "sef")}
      | .ratio = (if .stock.status == "ok" and .sef.status == "ok" and .stock.iops > 0
                  then .sef.iops / .stock.iops else null end) ] as $results
  | ($results | map(
      . as $r
      | (if ($r.sef.status == "not available") and ($pending | index($r.pair)) == null
         then "\($r.column) \($r.pair): the SEF device is missing but the pair is not pending: \($r.sef.reason)"
         elif ($r.sef.status == "ok") and ($pending | index($r.pair)) != null
         then "\($r.column) \($r.pair): the pair is listed as pending but its SEF device works (update the list)"
         else empty end),
        (($r.stock, $r.sef) | select(.status == "failed")
         | "\($r.column) \($r.pair) \($r.cell): \(.reason)")) | unique) as $problems
  | $meta[0] + {results: $results, problems: $problems, pending: $pending}
' >"$OUT/results.json"

# The table.
{
  jq -r '"QEMU device benchmark: SEF-backed device vs stock QEMU device (ratio = SEF / stock IOPS)",
         "host \(.host), \(.date), \(.qemu), guest \(.guest_kernel), \(.fio), git \(.git_commit)",
         "load average at the end \(.load_average) on \(.cpus) CPUs, \(.accel)", ""' "$OUT/results.json"
  printf '%-6s %-12s %-11s %20s %20s %7s\n' column pair cell "stock IOPS (MiB/s)" "SEF IOPS (MiB/s)" ratio
  jq -r '.results[] |
    def v: if .status == "ok" then "\(.iops | floor) (\(.mib_s * 10 | round / 10))"
           elif .status == "not available" then "n/a" else "FAILED" end;
    [.column, .pair, .cell, (.stock | v), (.sef | v),
     (if .ratio == null then "-" else .ratio end)] | @tsv' \
    "$OUT/results.json" | awk -F'\t' '{ r = ($6 == "-") ? "-" : sprintf("%.2f", $6)
      printf "%-6s %-12s %-11s %20s %20s %7s\n", $1, $2, $3, $4, $5, r }'
  echo
  jq -r '[.results[] | select(.sef.status == "not available") | "\(.column) \(.pair): not available: \(.sef.reason)"]
         | unique[]' "$OUT/results.json"
  jq -r '.problems[] | "PROBLEM: \(.)"' "$OUT/results.json"
} >"$OUT/results.txt"
cat "$OUT/results.txt"

# The chart: one bar per cell and column, the ratio; 1.0 marked.
jq -r '.results[] | select(.ratio != null) | [.pair + " " + .cell, .column, .ratio] | @tsv' \
  "$OUT/results.json" >"$OUT/ratios.tsv"
if [[ -s "$OUT/ratios.tsv" ]] && command -v gnuplot >/dev/null; then
  # Rows "label<TAB>file-ratio<TAB>ram-ratio" (missing = NaN) for a clustered histogram.
  awk -F'\t' '{ key[$1] = 1; v[$1, $2] = $3; if (!($1 in order)) { order[$1] = ++n; label[n] = $1 } }
    END { for (i = 1; i <= n; ++i) { l = label[i];
      printf "\"%s\"\t%s\t%s\n", l, ((l, "file") in v ? v[l, "file"] : "NaN"), ((l, "ram") in v ? v[l, "ram"] : "NaN") } }' \
    "$OUT/ratios.tsv" >"$OUT/ratios.dat"
  plot="\"$OUT/ratios.dat\" using 2:xtic(1) title \"embedded default unit (file)\" lc rgb \"#4472c4\""
  if grep -q $'\tram\t' "$OUT/ratios.tsv"; then
    grep -q $'\tfile\t' "$OUT/ratios.tsv" || plot="\"$OUT/ratios.dat\" using 3:xtic(1) title \"RAM unit\" lc rgb \"#ed7d31\""
    grep -q $'\tfile\t' "$OUT/ratios.tsv" && plot+=", \"\" using 3 title \"RAM unit\" lc rgb \"#ed7d31\""
  fi
  gnuplot <<EOF >"$OUT/gnuplot.log" 2>&1 || echo "report.sh: gnuplot failed (see $OUT/gnuplot.log)" >&2
set terminal svg size 960,480 font "sans,11" background "white"
set output "$OUT/ratios.svg"
set title "SEF-backed QEMU device / stock QEMU device, IOPS (median), TCG guest"
set style data histograms
set style histogram clustered gap 1
set style fill solid 0.8 border -1
set boxwidth 0.9
set ylabel "ratio (SEF / stock)"
set yrange [0:*]
set xtics rotate by -35 nomirror
set grid ytics
set key top right
set arrow from graph 0, first 1 to graph 1, first 1 nohead lc rgb "red" lw 2 dt 2
plot $plot
EOF
fi
[[ "$(jq '.problems | length' "$OUT/results.json")" -eq 0 ]]
