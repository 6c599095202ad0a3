#!/usr/bin/env bash
# Long fuzzing runs, by hand (CI runs every target for 5 s in scripts/test.sh):
#
#   scripts/fuzz.sh                          # every target, 10 minutes each
#   scripts/fuzz.sh --time 3600 model_fuzzer # one target for an hour
#   scripts/fuzz.sh -- -fork=2               # extra libFuzzer flags (here: 2 processes)
#
# Targets: the sef_cc_fuzzer targets of the tree (docs/testing.md). Each keeps its corpus in
# ~/.cache/sef/fuzz/<target>/ (it grows from run to run; the seeds in testdata/fuzz/<target>/
# are read too) and writes crashing inputs to ~/.cache/sef/fuzz/<target>-artifacts/. The last
# lines summarise every target: executions, coverage (cov: edges, ft: features), corpus size
# and whether it found anything. Exit status 1 when a target crashed.
set -euo pipefail
cd "$(dirname "$0")/.."

seconds=600
targets=()
extra=()
while [[ $# -gt 0 ]]; do
  case "$1" in
    --time) seconds="$2"; shift 2 ;;
    --) shift; extra=("$@"); break ;;
    -h|--help) sed -n '2,13p' "$0"; exit 0 ;;
    *) targets+=("$1"); shift ;;
  esac
done

scripts/setup.sh
mapfile -t runs < <(bazel query 'attr(tags, "\bfuzz\b", tests(//...))' 2>/dev/null | sort)
if [[ ${#targets[@]} -gt 0 ]]; then
  selected=()
  for t in "${targets[@]}"; do
    match="$(printf '%s\n' "${runs[@]}" | grep -E ":${t}_run_test\$" || true)"
    [[ -n "$match" ]] || { echo "fuzz.sh: no fuzz target '$t'" >&2; exit 2; }
    selected+=("$match")
  done
  runs=("${selected[@]}")
fi
bazel build --config=fuzz "${runs[@]}"

cache="${SEF_CACHE_DIR:-$HOME/.cache/sef}/fuzz"
# Backing files live in RAM when possible: the backing-file fuzzer msyncs on every open.
scratch=""
[[ -d /dev/shm && -w /dev/shm ]] && scratch=/dev/shm
summary=()
status=0
for run in "${runs[@]}"; do
  name="${run##*:}"
  name="${name%_run_test}"
  log="$cache/$name.log"
  mkdir -p "$cache"
  echo "fuzz.sh: $name for ${seconds} s (log: $log)"
  rc=0
  SEF_FUZZ_SECONDS="$seconds" SEF_FUZZ_CORPUS="$cache/$name" SEF_FUZZ_SCRATCH="$scratch" \
    SEF_FUZZ_ARTIFACTS="$cache/$name-artifacts" \
    bazel run --config=fuzz "$run" -- "${extra[@]}" >"$log" 2>&1 || rc=$?
  execs="$(grep -oE 'stat::number_of_executed_units: [0-9]+' "$log" | awk '{ n += $2 } END { print n + 0 }')"
  last="$(grep -E '^#[0-9]+.*cov: ' "$log" | tail -n 1 || true)"
  cov="$(grep -oE 'cov: [0-9]+' <<<"$last" | awk '{ print $2 }' || true)"
  ft="$(grep -oE 'ft: [0-9]+' <<<"$last" | awk '{ print $2 }' || true)"
  corpus="$(find "$cache/$name" -type f | wc -l)"
  result="ok"
  if [[ $rc -ne 0 ]]; then
    result="FAILED (exit $rc): $(ls -t "$cache/$name-artifacts" 2>/dev/null | head -n 1)"
    status=1
  fi
  summary+=("$(printf '%-22s %12s execs  cov %-6s ft %-7s corpus %-6s %s' \
    "$name" "$execs" "${cov:-?}" "${ft:-?}" "$corpus" "$result")")
done
printf '%s\n' "${summary[@]}"
exit "$status"
