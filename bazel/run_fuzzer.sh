#!/usr/bin/env bash
# A short libFuzzer run as a Bazel test (sef_cc_fuzzer's <name>_run_test): the fuzzer starts
# from its seed corpus and stops after SECONDS; any crash, leak, timeout or failed check fails
# the test, and the input that caused it is kept in the test's undeclared outputs
# (bazel-testlogs/.../test.outputs/).
#
# Usage: run_fuzzer.sh FUZZER SEED_DIR SECONDS [libFuzzer flags...]
set -euo pipefail
fuzzer="$1" seeds="$2" seconds="$3"
shift 3
corpus="${TEST_TMPDIR:-$(mktemp -d)}/corpus"  # new inputs go here, never into the seeds
mkdir -p "$corpus"
artifacts="${TEST_UNDECLARED_OUTPUTS_DIR:-${corpus}}/"
exec "$fuzzer" -max_total_time="$seconds" -timeout=25 -rss_limit_mb=2560 -print_final_stats=1 \
  -artifact_prefix="$artifacts" "$@" "$corpus" "$seeds"
