#!/usr/bin/env bash
# E2E: the patch step stops with a clear message naming the broken patch. Works on temporary
# copies of the series with build_qemu.sh --check-patches (source tree only: no configure, no
# build, the QEMU cache is untouched).
set -euo pipefail
source "$(dirname "$0")/lib.sh"

BUILD="$REPO_ROOT/tools/qemu/build_qemu.sh"
SERIES="$REPO_ROOT/sef/qemu_bridge/patches"
first="$(sed -e 's/#.*//' -e '/^[[:space:]]*$/d' "$SERIES/series" | head -n1)"

# check_series NAME DIR: runs --check-patches on DIR, keeps status in RC and output in NAME.log.
check_series() {
  set +e
  "$BUILD" --check-patches --series "$2" >"$E2E_TMP/$1.log" 2>&1
  RC=$?
  set -e
  echo "  [$1] exit $RC:"
  sed 's/^/  | /' "$E2E_TMP/$1.log" | tail -n 15
}

# 0. The real series applies.
check_series good "$SERIES"
check "the project's series applies (exit $RC)" test "$RC" -eq 0
check "each patch is reported as applied" has "$E2E_TMP/good.log" "patch: applied $first"

# 1. A truncated (malformed) first patch.
cp -r "$SERIES" "$E2E_TMP/truncated"
lines="$(wc -l <"$SERIES/$first")"
head -n $((lines - 6)) "$SERIES/$first" >"$E2E_TMP/truncated/$first"
check_series truncated "$E2E_TMP/truncated"
check "truncated patch: build stops (exit $RC)" test "$RC" -ne 0
check "truncated patch: message names $first" has "$E2E_TMP/truncated.log" "PATCH FAILED: $first "
check "truncated patch: names the failed step" has "$E2E_TMP/truncated.log" "FAILED at step: apply patch $first"

# 2. A patch whose context does not match the source, after the good ones.
cp -r "$SERIES" "$E2E_TMP/context"
cat >"$E2E_TMP/context/9999-e2e-wrong-context.patch" <<'PATCH'
From: e2e test <e2e@invalid>
Subject: [PATCH] deliberately broken: context that is not in the source

---
diff --git a/VERSION b/VERSION
--- a/VERSION
+++ b/VERSION
@@ -1 +1 @@
-0.0.0-not-the-qemu-version
+9.9.9
PATCH
echo "9999-e2e-wrong-context.patch" >>"$E2E_TMP/context/series"
check_series context "$E2E_TMP/context"
check "wrong-context patch: build stops (exit $RC)" test "$RC" -ne 0
# It is the last patch of the series, whatever the series' length.
n_patches="$(grep -cvE '^[[:space:]]*(#|$)' "$E2E_TMP/context/series")"
check "wrong-context patch: message names it" has "$E2E_TMP/context.log" \
  "PATCH FAILED: 9999-e2e-wrong-context.patch \\(patch $n_patches of $n_patches"
check "wrong-context patch: shows patch's own complaint" has "$E2E_TMP/context.log" 'FAILED|malformed|Reversed'
check "wrong-context patch: the good patch before it applied" has "$E2E_TMP/context.log" "patch: applied $first"

# 3. The series lists a file that does not exist.
cp -r "$SERIES" "$E2E_TMP/missing"
echo "0002-does-not-exist.patch" >>"$E2E_TMP/missing/series"
check_series missing "$E2E_TMP/missing"
check "missing patch file: build stops (exit $RC)" test "$RC" -ne 0
check "missing patch file: message names it" has "$E2E_TMP/missing.log" '0002-does-not-exist.patch'

# 4. The cache key follows the patch content: a changed patch gets a different key.
printf '\n' >>"$E2E_TMP/missing/$first" # (missing/ is a copy; only the key is computed)
sed -i '$d' "$E2E_TMP/missing/series"
# (SEF_QEMU_BRIDGE_LIB=none: the key of a QEMU without the bridge, which needs no Bazel build)
key_a="$(SEF_QEMU_BRIDGE_LIB=none "$BUILD" --print-key --series "$SERIES" 2>/dev/null)"
key_b="$(SEF_QEMU_BRIDGE_LIB=none "$BUILD" --print-key --series "$E2E_TMP/missing" 2>/dev/null)"
check "cache key changes with a patch's content ($key_a vs $key_b)" test -n "$key_a" -a -n "$key_b" -a "$key_a" != "$key_b"
e2e_done
