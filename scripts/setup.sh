#!/usr/bin/env bash
# Installs every Debian package this project needs to build and test. Idempotent:
# a second run installs nothing and takes about a second.
#
# Usage: scripts/setup.sh [--with-qemu]
#   --with-qemu  also install what the patched-QEMU build and the guest harness need.
set -euo pipefail

BUILD_PACKAGES=(
  bazel-bootstrap bazel-platforms bazel-rules-java
  g++ pkgconf clang-format jq
  clang-14 libclang-rt-14-dev lld-14
  libnvme-dev libjson-c-dev libssl-dev liburing-dev nlohmann-json3-dev libabsl-dev
  libgtest-dev libgmock-dev libbenchmark-dev
)

QEMU_PACKAGES=(
  dpkg-dev meson ninja-build ccache libglib2.0-dev libpixman-1-dev libfdt-dev
  libcap-ng-dev libaio-dev zlib1g-dev xz-utils
  seabios qemu-system-data busybox-static cpio kmod
  fio util-linux nvme-cli patch procps gnuplot-nox
)

packages=("${BUILD_PACKAGES[@]}")
if [[ "${1:-}" == "--with-qemu" ]]; then
  packages+=("${QEMU_PACKAGES[@]}")
elif [[ $# -gt 0 ]]; then
  echo "setup.sh: unknown option '$1' (expected --with-qemu)" >&2
  exit 2
fi

missing=()
for p in "${packages[@]}"; do
  if ! dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed"; then
    missing+=("$p")
  fi
done
[[ ${#missing[@]} -eq 0 ]] && exit 0

SUDO=""
[[ $(id -u) -ne 0 ]] && SUDO="sudo"
export DEBIAN_FRONTEND=noninteractive
echo "setup: installing ${missing[*]}" >&2
# Apt lists may be missing or stale on a fresh machine: refresh them once and retry.
if ! $SUDO apt-get install -y --no-install-recommends "${missing[@]}" >/tmp/sef-setup-apt.log 2>&1; then
  echo "setup: apt-get install failed; running apt-get update once and retrying" >&2
  $SUDO apt-get update >>/tmp/sef-setup-apt.log 2>&1 || true
  if ! $SUDO apt-get install -y --no-install-recommends "${missing[@]}" >>/tmp/sef-setup-apt.log 2>&1; then
    tail -n 20 /tmp/sef-setup-apt.log >&2
    echo "setup: could not install: ${missing[*]} (log: /tmp/sef-setup-apt.log)" >&2
    exit 1
  fi
fi
