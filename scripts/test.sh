#!/usr/bin/env bash
# The README's test command: installs what is missing, then runs every test.
#   1. scripts/setup.sh --with-qemu   (Debian packages; idempotent)
#   2. bazel test //...                (unit, golden-vector, conformance and model tests)
#   3. tools/e2e/run_all.sh            (patched QEMU + Linux guest end-to-end tests)
# With CI=true Bazel prints more progress and the end-to-end tests print their guest logs.
set -euo pipefail
cd "$(dirname "$0")/.."

scripts/setup.sh --with-qemu

bazel_args=()
[[ "${CI:-}" == "true" ]] && bazel_args+=(--config=ci)
bazel test "${bazel_args[@]}" //...

tools/e2e/run_all.sh
