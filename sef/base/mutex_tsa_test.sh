#!/usr/bin/env bash
# The annotated locks of sef/base/mutex.h are seen by clang's thread-safety analysis: a clean
# use compiles, and each mistake of testdata/tsa_violations.cc is refused. Skipped (passes with
# a note) when clang-14 is not installed; scripts/setup.sh installs it.
set -euo pipefail
clang="$(command -v clang++-14 || true)"
if [[ -z "$clang" ]]; then
  echo "SKIP: clang++-14 not installed"
  exit 0
fi
src="sef/base/testdata/tsa_violations.cc"
flags=(-std=c++20 -fsyntax-only -I. -Wthread-safety -Werror)
"$clang" "${flags[@]}" "$src" || { echo "FAIL: the clean case does not compile"; exit 1; }
for n in 1 2 3 4; do
  if out="$("$clang" "${flags[@]}" -DSEF_CASE="$n" "$src" 2>&1)"; then
    echo "FAIL: case $n compiled; the analysis did not see the mistake"
    exit 1
  fi
  grep -q "thread-safety" <<<"$out" || { echo "FAIL: case $n failed for another reason:"; echo "$out"; exit 1; }
  echo "ok: case $n refused: $(grep -m1 'error:' <<<"$out" | sed 's/.*error: //')"
done
