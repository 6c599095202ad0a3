#!/usr/bin/env bash
# Builds libsefbridge (sef/qemu_bridge/install.sh) and a patched QEMU that links it
# (tools/qemu/build_qemu.sh with SEF_QEMU_BRIDGE_LIB and --enable-sef-bridge), both cached
# under ~/.cache/sef/. Prints the QEMU binary's path on its last stdout line; progress goes to
# stderr. Arguments are passed to build_qemu.sh (e.g. --force).
set -euo pipefail
REPO="$(cd "$(dirname "$0")/../.." && pwd)"
BRIDGE="$("$REPO/sef/qemu_bridge/install.sh" | tail -n1)"
[[ -d "$BRIDGE" ]] || { echo "build_sef_qemu.sh: install.sh printed no prefix" >&2; exit 1; }
export SEF_QEMU_BRIDGE_LIB="$BRIDGE"
export SEF_QEMU_EXTRA_CONFIGURE="--enable-sef-bridge${SEF_QEMU_EXTRA_CONFIGURE:+ $SEF_QEMU_EXTRA_CONFIGURE}"
exec "$REPO/tools/qemu/build_qemu.sh" "$@"
