#!/usr/bin/env bash
# libsefbridge.so must export the C ABI of sef_bridge.h and nothing else: every defined
# dynamic symbol is sef_bridge_*, and every function the header declares is there.
set -euo pipefail
so="$1"
header="$2"
exported="$(nm -D --defined-only "$so" | awk '{print $3}' | sort)"
echo "exported by $(basename "$so"):"
echo "$exported" | sed 's/^/  /'
failed=0
stray="$(echo "$exported" | grep -v '^sef_bridge_' || true)"
if [[ -n "$stray" ]]; then
  echo "FAILED: symbols outside the C ABI are exported:" >&2
  echo "$stray" | sed 's/^/  /' >&2
  failed=1
fi
declared="$(grep -o 'SEF_BRIDGE_API [^(]*(' "$header" | grep -o 'sef_bridge_[a-z_]*' | sort -u)"
missing="$(comm -23 <(echo "$declared") <(echo "$exported"))"
if [[ -n "$missing" ]]; then
  echo "FAILED: declared in $(basename "$header") but not exported: $missing" >&2
  failed=1
fi
echo "$(echo "$declared" | wc -l) declared, $(echo "$exported" | wc -l) exported"
exit "$failed"
