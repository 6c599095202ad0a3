#!/usr/bin/env bash
# Builds libsefbridge.so (bazel build -c opt) and installs it with its header and a pkg-config
# file, the form QEMU's build consumes (docs/qemu-bridge.md).
#
#   sef/qemu_bridge/install.sh [PREFIX]
#
# Layout:
#   PREFIX/lib/libsefbridge.so
#   PREFIX/include/sef_bridge.h
#   PREFIX/lib/pkgconfig/sefbridge.pc     (Libs: -L${libdir} -lsefbridge -Wl,-rpath,${libdir})
#
# Without PREFIX the prefix is ${SEF_CACHE_DIR:-${XDG_CACHE_HOME:-~/.cache}/sef}/bridge/<hash>,
# <hash> = sha256 of the library and the header: the same build always lands in the same
# directory (reused as it is), a different one elsewhere. It is filled in a temporary
# directory and renamed, so it is never seen half-written. An explicit PREFIX is overwritten.
#
# The last line of stdout is the prefix; Bazel's progress goes to stderr. For QEMU:
#   SEF_QEMU_BRIDGE_LIB="$(sef/qemu_bridge/install.sh | tail -n1)" tools/qemu/build_qemu.sh
set -euo pipefail

REPO_ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)"
CACHE_ROOT="${SEF_CACHE_DIR:-${XDG_CACHE_HOME:-$HOME/.cache}/sef}"
readonly TARGET=//sef/qemu_bridge:libsefbridge.so

case "${1:-}" in
  -h | --help)
    sed -n '2,/^set -euo/p' "$0" | sed '$d; s/^# \{0,1\}//'
    exit 0
    ;;
esac
[[ $# -le 1 ]] || { echo "install.sh: at most one argument, the prefix (see --help)" >&2; exit 2; }

log() { echo "[sefbridge] $*" >&2; }

cd "$REPO_ROOT"
log "bazel build -c opt $TARGET"
bazel build -c opt "$TARGET" >&2
SO="$(bazel info -c opt bazel-bin 2>/dev/null)/sef/qemu_bridge/libsefbridge.so"
HEADER="$REPO_ROOT/sef/qemu_bridge/sef_bridge.h"
[[ -f "$SO" ]] || { echo "install.sh: $SO was not built" >&2; exit 1; }

# Only the C ABI may be exported (sef_bridge.lds); refuse to install anything else.
stray="$(nm -D --defined-only "$SO" | awk '{print $3}' | grep -v '^sef_bridge_' || true)"
if [[ -n "$stray" ]]; then
  echo "install.sh: $SO exports symbols outside the C ABI:" >&2
  echo "$stray" >&2
  exit 1
fi

ABI_VERSION="$(sed -n 's/^#define SEF_BRIDGE_ABI_VERSION \([0-9]*\).*/\1/p' "$HEADER")"
[[ -n "$ABI_VERSION" ]] || { echo "install.sh: no SEF_BRIDGE_ABI_VERSION in $HEADER" >&2; exit 1; }

# fill DIR PREFIX: writes the layout into DIR for a library that will live at PREFIX.
fill() {
  local dir="$1" prefix="$2"
  mkdir -p "$dir/lib/pkgconfig" "$dir/include"
  install -m 0755 "$SO" "$dir/lib/libsefbridge.so"
  install -m 0644 "$HEADER" "$dir/include/sef_bridge.h"
  cat >"$dir/lib/pkgconfig/sefbridge.pc" <<EOF
prefix=$prefix
libdir=\${prefix}/lib
includedir=\${prefix}/include

Name: sefbridge
Description: The SEF device model behind a C ABI (sef_bridge.h), for QEMU's NVMe controller
Version: $ABI_VERSION
Libs: -L\${libdir} -lsefbridge -Wl,-rpath,\${libdir}
Cflags: -I\${includedir}
EOF
}

if [[ $# -eq 1 ]]; then
  mkdir -p "$1"
  PREFIX="$(cd "$1" && pwd)"
  fill "$PREFIX" "$PREFIX"
else
  HASH="$(cat "$SO" "$HEADER" | sha256sum | cut -c1-16)"
  PREFIX="$CACHE_ROOT/bridge/$HASH"
  if [[ -d "$PREFIX" ]]; then
    log "cached: $PREFIX"
  else
    mkdir -p "$CACHE_ROOT/bridge"
    tmp="$(mktemp -d "$CACHE_ROOT/bridge/.tmp-$HASH.XXXXXX")"
    trap 'rm -rf "$tmp"' EXIT
    fill "$tmp" "$PREFIX"
    chmod 0755 "$tmp"
    # A concurrent install of the same build may have won the race: its result is identical.
    mv -T "$tmp" "$PREFIX" 2>/dev/null || rm -rf "$tmp"
  fi
fi

if command -v pkg-config >/dev/null; then
  PKG_CONFIG_PATH="$PREFIX/lib/pkgconfig" pkg-config --validate sefbridge \
    || { echo "install.sh: $PREFIX/lib/pkgconfig/sefbridge.pc does not validate" >&2; exit 1; }
fi
log "installed libsefbridge.so (ABI $ABI_VERSION) into $PREFIX"
echo "$PREFIX"
