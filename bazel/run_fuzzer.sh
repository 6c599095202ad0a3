#!/usr/bin/env bash
# Runs a libFuzzer binary for a bounded time from its seed corpus: the body of every
# sef_cc_fuzzer's <name>_run_test (bazel/fuzz.bzl). Any crash, leak, timeout or failed check
# fails it, and the input that caused it is kept as an artifact.
#
# Usage: run_fuzzer.sh FUZZER SEED_DIR SECONDS [libFuzzer flags...]
#
# As a Bazel test (what scripts/test.sh runs) new inputs go to a scratch directory and
# artifacts to the test's undeclared outputs (bazel-testlogs/.../test.outputs/). scripts/fuzz.sh
# runs it with `bazel run` and these variables for long runs:
#   SEF_FUZZ_SECONDS    run this long instead of SECONDS
#   SEF_FUZZ_CORPUS     the corpus directory new inputs go to (kept across runs)
#   SEF_FUZZ_ARTIFACTS  where crash, leak and timeout inputs are written
#   SEF_FUZZ_SCRATCH    where targets put scratch files (sef/base/testing/fuzz.h)
set -euo pipefail
fuzzer="$1" seeds="$2" seconds="${SEF_FUZZ_SECONDS:-$3}"
shift 3
corpus="${SEF_FUZZ_CORPUS:-${TEST_TMPDIR:-$(mktemp -d)}/corpus}"  # never the seeds
artifacts="${SEF_FUZZ_ARTIFACTS:-${TEST_UNDECLARED_OUTPUTS_DIR:-${corpus}}}"
mkdir -p "$corpus" "$artifacts"
exec "$fuzzer" -max_total_time="$seconds" -timeout=25 -rss_limit_mb=2560 -print_final_stats=1 \
  -artifact_prefix="$artifacts/" "$@" "$corpus" "$seeds"
