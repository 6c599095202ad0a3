#!/usr/bin/env bash
# Builds the Linux guest for the test VMs from Debian packages only, and caches it.
#
#   tools/vm/build_guest.sh [--force] [--print-key]
#
# The guest is Debian's 6.1 kernel (linux-image-6.1.0-<N>-amd64, fetched with `apt-get download`,
# not installed) and a busybox-static initramfs holding the kernel modules the tests need plus
# tools/vm/guest-init.sh as /init. The initramfs mounts the host's root file system read-only
# over 9p and runs a script there (see tools/vm/run_vm.sh). Output, under
#   ${SEF_CACHE_DIR:-~/.cache/sef}/guest/<key>/{vmlinuz,initrd.gz,info.txt}
# where <key> hashes the kernel package and version, busybox's version, the module lists and this
# script plus the init. The last line of stdout is that directory.
#
# Environment:
#   SEF_CACHE_DIR              cache root (default ${XDG_CACHE_HOME:-~/.cache}/sef)
#   SEF_GUEST_KERNEL_PACKAGE   kernel package (default: what linux-image-amd64 depends on, a 6.1
#                              linux-image-*-amd64)
set -euo pipefail
export PATH=/usr/sbin:/usr/bin:/sbin:/bin

readonly RECIPE_VERSION=1
HERE="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
CACHE_ROOT="${SEF_CACHE_DIR:-${XDG_CACHE_HOME:-$HOME/.cache}/sef}"
INIT_SRC="$HERE/guest-init.sh"

# Loaded by /init at every boot, in this order (each after its dependencies): virtio and
# virtio-blk, 9p over virtio (the root file system), NVMe. The crypto providers come before
# nvme so that t10-pi's crc users find them without request_module.
BOOT_MODULES=(
  virtio_pci virtio_blk
  9pnet_virtio 9p
  crct10dif_generic crc64_rocksoft_generic nvme
)
# In the initramfs but loaded only on request (run_vm.sh --modules, kernel `sef.modules=`):
# zoned file systems and friends for later issues.
EXTRA_MODULES=(zonefs f2fs btrfs null_blk dm-zoned)

FORCE=0
MODE=build
while [[ $# -gt 0 ]]; do
  case "$1" in
    --force) FORCE=1; shift ;;
    --print-key) MODE=key; shift ;;
    -h|--help) sed -n '2,/^set -euo/p' "$0" | sed '$d; s/^# \{0,1\}//'; exit 0 ;;
    *) echo "build_guest.sh: unknown argument '$1' (see --help)" >&2; exit 2 ;;
  esac
done

log() { echo "[guest] $*" >&2; }
die() { echo "[guest] ERROR: $*" >&2; exit 1; }
SUDO=""
[[ $(id -u) -ne 0 ]] && SUDO="sudo"

apt_show_version() { apt-cache show --no-all-versions "$1" 2>/dev/null | sed -n 's/^Version: //p' | head -n1; }

kernel_package() {
  if [[ -n "${SEF_GUEST_KERNEL_PACKAGE:-}" ]]; then echo "$SEF_GUEST_KERNEL_PACKAGE"; return; fi
  apt-cache depends linux-image-amd64 2>/dev/null \
    | sed -n 's/^ *Depends: \(linux-image-6\.1\.[^ ]*-amd64\)$/\1/p' | head -n1
}

KPKG="$(kernel_package)"
if [[ -z "$KPKG" ]]; then
  log "apt does not know linux-image-amd64: apt-get update..."
  $SUDO apt-get update >/dev/null 2>&1 || true
  KPKG="$(kernel_package)"
fi
[[ "$KPKG" =~ ^linux-image-6\.1\..*-amd64$ ]] || die "no 6.1 linux-image-*-amd64 package found (got '$KPKG')"
KVER_PKG="$(apt_show_version "$KPKG")"
[[ -n "$KVER_PKG" ]] || die "apt has no version of $KPKG"
BUSYBOX=/bin/busybox
[[ -x "$BUSYBOX" ]] || die "busybox-static is not installed (scripts/setup.sh --with-qemu)"
file_is_static() { ! LC_ALL=C ldd "$1" >/dev/null 2>&1; }
file_is_static "$BUSYBOX" || die "$BUSYBOX is not statically linked (install busybox-static)"
BB_VERSION="$(dpkg-query -W -f='${Version}' busybox-static 2>/dev/null || "$BUSYBOX" | head -n1)"

KEY="$({
  echo "recipe $RECIPE_VERSION"
  echo "kernel $KPKG $KVER_PKG"
  echo "busybox $BB_VERSION"
  echo "boot ${BOOT_MODULES[*]}"
  echo "extra ${EXTRA_MODULES[*]}"
  echo "builder $(sha256sum <"$0" | cut -d' ' -f1)"
  echo "init $(sha256sum <"$INIT_SRC" | cut -d' ' -f1)"
} | sha256sum | cut -c1-16)"
OUT="$CACHE_ROOT/guest/$KEY"

if [[ $MODE == key ]]; then echo "$KEY"; exit 0; fi
if [[ $FORCE -eq 0 && -f "$OUT/vmlinuz" && -f "$OUT/initrd.gz" && -f "$OUT/info.txt" ]]; then
  log "cached: $KPKG $KVER_PKG, key $KEY"
  echo "$OUT"
  exit 0
fi

T_START=$(date +%s)
mkdir -p "$CACHE_ROOT/guest" "$CACHE_ROOT/guest-debs"
TMP="$(mktemp -d "$CACHE_ROOT/guest/.tmp-$KEY.XXXXXX")"
trap 'rm -rf "$TMP"' EXIT

# The .deb is cached on its own, so changing only the init does not download it again.
DEB="$(ls "$CACHE_ROOT/guest-debs/${KPKG}_${KVER_PKG//:/%3a}_amd64.deb" 2>/dev/null || true)"
if [[ -z "$DEB" ]]; then
  log "download: apt-get download $KPKG=$KVER_PKG..."
  (cd "$TMP" && apt-get download "$KPKG=$KVER_PKG") >"$TMP/download.log" 2>&1 \
    || { tail -n 40 "$TMP/download.log" >&2; die "apt-get download $KPKG failed"; }
  mv "$TMP"/*.deb "$CACHE_ROOT/guest-debs/"
  DEB="$(ls "$CACHE_ROOT/guest-debs/${KPKG}_"*.deb | head -n1)"
fi
log "unpack: $(basename "$DEB")..."
dpkg-deb -x "$DEB" "$TMP/pkg"
KVER="$(ls "$TMP/pkg/lib/modules" | head -n1)"
[[ -n "$KVER" && -f "$TMP/pkg/boot/vmlinuz-$KVER" ]] || die "unexpected layout in $DEB"
depmod -b "$TMP/pkg" "$KVER"

# Resolve each module to its ordered insmod list (dependencies first) with the host's modprobe
# against the unpacked tree.
MODROOT="$TMP/pkg/lib/modules/$KVER"
resolve() { # NAME -> relative .ko paths, load order
  modprobe -d "$TMP/pkg" -S "$KVER" --show-depends "$1" \
    | sed -n "s|^insmod $MODROOT/\([^ ]*\).*|\1|p"
}

R="$TMP/root"
mkdir -p "$R"/{bin,sbin,dev,proc,sys,newroot,sef,etc/sef-modules,"lib/modules/$KVER"}
declare -A SEEN=()
BOOT_ORDER=()
copy_ko() {
  local rel="$1"
  if [[ -z "${SEEN[$rel]:-}" ]]; then
    SEEN[$rel]=1
    mkdir -p "$R/lib/modules/$KVER/$(dirname "$rel")"
    cp "$MODROOT/$rel" "$R/lib/modules/$KVER/$rel"
  fi
}
for m in "${BOOT_MODULES[@]}"; do
  list="$(resolve "$m")"
  [[ -n "$list" ]] || die "module $m not found in $KPKG"
  while IFS= read -r rel; do
    # shellcheck disable=SC2076
    if [[ ! " ${BOOT_ORDER[*]} " =~ " $rel " ]]; then BOOT_ORDER+=("$rel"); fi
    copy_ko "$rel"
  done <<<"$list"
done
printf '%s\n' "${BOOT_ORDER[@]}" >"$R/etc/sef-modules/boot"
for m in "${EXTRA_MODULES[@]}"; do
  list="$(resolve "$m")"
  [[ -n "$list" ]] || die "module $m not found in $KPKG"
  printf '%s\n' "$list" >"$R/etc/sef-modules/${m//-/_}"
  while IFS= read -r rel; do copy_ko "$rel"; done <<<"$list"
done
cp "$MODROOT"/modules.{order,builtin,builtin.modinfo} "$R/lib/modules/$KVER/"
depmod -b "$R" "$KVER"

cp "$BUSYBOX" "$R/bin/busybox"
ln -s busybox "$R/bin/sh" # for /init's #!/bin/sh; /init installs the other applets
install -m 0755 "$INIT_SRC" "$R/init"
echo "$KVER" >"$R/etc/sef-kernel-version"

log "initramfs: ${#SEEN[@]} modules, busybox $BB_VERSION..."
(cd "$R" && find . -mindepth 1 | LC_ALL=C sort | cpio -o -H newc --quiet -R 0:0) | gzip -6 >"$TMP/initrd.gz"

mkdir -p "$TMP/out"
cp "$TMP/pkg/boot/vmlinuz-$KVER" "$TMP/out/vmlinuz"
mv "$TMP/initrd.gz" "$TMP/out/initrd.gz"
cp "$TMP/pkg/boot/config-$KVER" "$TMP/out/config"
{
  echo "key: $KEY"
  echo "built: $(date -u +%Y-%m-%dT%H:%M:%SZ) in $(($(date +%s) - T_START)) s"
  echo "kernel: $KPKG $KVER_PKG ($KVER)"
  echo "busybox-static: $BB_VERSION"
  echo "boot modules (load order):"
  sed 's/^/  /' "$R/etc/sef-modules/boot"
  echo "extra modules (on request): ${EXTRA_MODULES[*]}"
} >"$TMP/out/info.txt"
rm -rf "$OUT"
mv -T "$TMP/out" "$OUT"
log "done in $(($(date +%s) - T_START)) s: $OUT ($(du -h "$OUT/initrd.gz" | cut -f1) initramfs)"
echo "$OUT"
