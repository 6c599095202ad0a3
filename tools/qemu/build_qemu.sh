#!/usr/bin/env bash
# Builds the project's patched qemu-system-x86_64 from Debian's QEMU source and caches it.
#
#   tools/qemu/build_qemu.sh [--series DIR] [--force] [--check-patches] [--print-key]
#
# Steps: make sure apt has a deb-src entry (derived from the machine's own deb entries),
# fetch Debian's qemu source with `apt-get source` (cached per version), build and install the
# SEF bridge library (sef/qemu_bridge/install.sh) that QEMU links, apply the project's patch
# series (DIR/series, in order, `patch -p1`), configure a minimal x86_64-softmmu build (the
# stock devices the tests use plus the SEF devices), build only qemu-system-x86_64 with ninja
# (nice'd, ccache), and install the binary into
#   ${SEF_CACHE_DIR:-~/.cache/sef}/qemu/<key>/bin/qemu-system-x86_64
# where <key> hashes the source version, every patch of the series (in order), the configure
# flags, the compiler and (hook) the bridge library. The last line of stdout is the binary's
# path; progress goes to stderr. A cached key is reused without building anything.
#
#   --series DIR      patch series directory (default: sef/qemu_bridge/patches)
#   --force           rebuild even if the key is cached
#   --check-patches   only fetch the source and apply the series to a scratch copy, then stop
#                     (a few seconds; no configure/build). Exit 0 if every patch applies.
#   --print-key       print the cache key and exit
#
# Environment:
#   SEF_CACHE_DIR              cache root (default ${XDG_CACHE_HOME:-~/.cache}/sef)
#   SEF_QEMU_SOURCE_VERSION    Debian source version to use (default: newest apt knows)
#   SEF_QEMU_JOBS              ninja -j (default 2)
#   SEF_QEMU_EXTRA_CONFIGURE   extra configure flags (folded into the key)
#   SEF_QEMU_BRIDGE_LIB        the bridge library: unset = build it (sef/qemu_bridge/install.sh);
#                              a file or directory = use that (its content hash is folded into
#                              the key; a directory is also prepended to PKG_CONFIG_PATH, and its
#                              pkgconfig/ and lib/pkgconfig/ subdirs); "none" = a QEMU without
#                              the SEF devices (configure --disable-sef-bridge).
set -euo pipefail

# System tools only: pyenv's python must not be picked by configure/meson.
export PATH=/usr/sbin:/usr/bin:/sbin:/bin

readonly RECIPE_VERSION=2 # bump when this script changes what it builds
readonly SRC_PACKAGE=qemu
readonly DEVICE_CONFIG=sef-minimal # configs/devices/x86_64-softmmu/<name>.mak, added by 0001

REPO_ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)"
CACHE_ROOT="${SEF_CACHE_DIR:-${XDG_CACHE_HOME:-$HOME/.cache}/sef}"
SERIES_DIR="$REPO_ROOT/sef/qemu_bridge/patches"
FORCE=0
MODE=build

while [[ $# -gt 0 ]]; do
  case "$1" in
    --series) SERIES_DIR="$(cd "$2" && pwd)"; shift 2 ;;
    --force) FORCE=1; shift ;;
    --check-patches) MODE=check; shift ;;
    --print-key) MODE=key; shift ;;
    -h|--help) sed -n '2,/^set -euo/p' "$0" | sed '$d; s/^# \{0,1\}//'; exit 0 ;;
    *) echo "build_qemu.sh: unknown argument '$1' (see --help)" >&2; exit 2 ;;
  esac
done

log() { echo "[qemu] $*" >&2; }
die() { echo "[qemu] ERROR: $*" >&2; exit 1; }
SUDO=""
[[ $(id -u) -ne 0 ]] && SUDO="sudo"

# fail_step STEP LOG: report a failed step with the tail of its log, then exit.
fail_step() {
  local step="$1" logfile="$2"
  {
    echo "[qemu] FAILED at step: $step"
    if grep -qE "(^FAILED: |[^a-z]error: )" "$logfile" 2>/dev/null; then
      echo "[qemu] first errors in $logfile:"
      grep -E "(^FAILED: |[^a-z]error: )" "$logfile" | head -n 10 | cut -c1-300 | sed "s/^/  /"
    fi
    echo "[qemu] log: $logfile (last 40 lines follow)"
    echo "------------------------------------------------------------------------"
    tail -n 40 "$logfile" 2>/dev/null || true
    echo "------------------------------------------------------------------------"
    echo "[qemu] FAILED at step: $step"
  } >&2
  exit 1
}

now() { date +%s; }

# --- apt: deb-src entry and source version ---------------------------------------------------

has_deb_src() {
  local f
  for f in /etc/apt/sources.list.d/*.sources; do
    [[ -f "$f" ]] || continue
    grep -qiE '^Types:.*(^|[[:space:]])deb-src([[:space:]]|$)' "$f" && return 0
  done
  for f in /etc/apt/sources.list /etc/apt/sources.list.d/*.list; do
    [[ -f "$f" ]] || continue
    grep -qE '^[[:space:]]*deb-src[[:space:]]' "$f" && return 0
  done
  return 1
}

# Prints deb-src stanzas mirroring every "Types: ... deb ..." stanza of a deb822 file.
derive_deb822() {
  local file="$1" line stanza="" is_deb=0
  flush() {
    if [[ $is_deb -eq 1 && -n "$stanza" ]]; then printf '%s\n\n' "$stanza"; fi
    stanza=""; is_deb=0
  }
  while IFS= read -r line || [[ -n "$line" ]]; do
    if [[ -z "${line//[[:space:]]/}" ]]; then flush; continue; fi
    if [[ "$line" =~ ^[Tt]ypes: ]]; then
      [[ " ${line#*:} " =~ [[:space:]]deb[[:space:]] ]] && is_deb=1
      line="Types: deb-src"
    fi
    stanza+="${stanza:+$'\n'}$line"
  done <"$file"
  flush
  unset -f flush
}

ensure_deb_src() {
  has_deb_src && return 0
  local out=/etc/apt/sources.list.d/sef-deb-src.sources tmp f content=""
  log "no deb-src entry: adding $out (mirrors the machine's deb entries)"
  for f in /etc/apt/sources.list.d/*.sources; do
    [[ -f "$f" && "$f" != "$out" ]] || continue
    local stanzas
    stanzas="$(derive_deb822 "$f")"
    [[ -n "$stanzas" ]] && content+="# derived from $f by tools/qemu/build_qemu.sh"$'\n'"$stanzas"$'\n\n'
  done
  local listout=/etc/apt/sources.list.d/sef-deb-src.list listcontent=""
  for f in /etc/apt/sources.list /etc/apt/sources.list.d/*.list; do
    [[ -f "$f" && "$f" != "$listout" ]] || continue
    listcontent+="$(sed -nE 's/^[[:space:]]*deb([[:space:]])/deb-src\1/p' "$f")"
  done
  [[ -n "$content" || -n "${listcontent//[[:space:]]/}" ]] || die "no deb entries found in /etc/apt to derive a deb-src entry from"
  tmp="$(mktemp)"
  if [[ -n "$content" ]]; then
    printf '%s' "$content" >"$tmp"
    $SUDO install -m 0644 "$tmp" "$out"
  fi
  if [[ -n "${listcontent//[[:space:]]/}" ]]; then
    printf '%s\n' "$listcontent" >"$tmp"
    $SUDO install -m 0644 "$tmp" "$listout"
  fi
  rm -f "$tmp"
  apt_update
}

apt_update() {
  log "apt-get update..."
  local l
  l="$(mktemp)"
  $SUDO apt-get update >"$l" 2>&1 || fail_step "apt-get update" "$l"
  rm -f "$l"
}

source_versions() { apt-cache showsrc "$SRC_PACKAGE" 2>/dev/null | sed -n 's/^Version: //p' | sort -u; }

resolve_version() {
  if [[ -n "${SEF_QEMU_SOURCE_VERSION:-}" ]]; then
    echo "$SEF_QEMU_SOURCE_VERSION"
    return
  fi
  local versions v best=""
  ensure_deb_src
  versions="$(source_versions)"
  if [[ -z "$versions" ]]; then
    apt_update
    versions="$(source_versions)"
  fi
  [[ -n "$versions" ]] || die "apt knows no source package '$SRC_PACKAGE' (deb-src entry missing or apt lists stale?)"
  for v in $versions; do
    if [[ -z "$best" ]] || dpkg --compare-versions "$v" gt "$best"; then best="$v"; fi
  done
  echo "$best"
}

# --- series ----------------------------------------------------------------------------------

# Prints the patch file names of the series, in order (comments and blank lines skipped).
series_patches() {
  [[ -f "$SERIES_DIR/series" ]] || die "no series file in $SERIES_DIR"
  sed -e 's/#.*//' -e 's/[[:space:]]*$//' -e 's/^[[:space:]]*//' "$SERIES_DIR/series" | sed '/^$/d'
}

CONFIGURE_FLAGS=(
  --target-list=x86_64-softmmu
  --without-default-features
  --without-default-devices
  "--with-devices-x86_64=$DEVICE_CONFIG"
  --enable-tcg
  --enable-kvm
  --enable-virtfs
  --enable-attr
  --enable-cap-ng
  --enable-linux-aio
  --enable-linux-io-uring
  --enable-fdt=system
  --disable-docs
  --disable-werror
  --firmwarepath=/usr/share/seabios:/usr/share/qemu
  --cc="ccache cc"
  --cxx="ccache c++"
)
# The bridge library (the SEF devices): built from this tree unless given, or "none".
BRIDGE_LIB="${SEF_QEMU_BRIDGE_LIB:-}"
resolve_bridge() {
  if [[ -z "$BRIDGE_LIB" ]]; then
    log "bridge: sef/qemu_bridge/install.sh (bazel build -c opt)..."
    BRIDGE_LIB="$("$REPO_ROOT/sef/qemu_bridge/install.sh" | tail -n1)" \
      || die "building the SEF bridge library failed (sef/qemu_bridge/install.sh)"
    [[ -d "$BRIDGE_LIB" ]] || die "sef/qemu_bridge/install.sh printed no prefix"
  fi
  if [[ "$BRIDGE_LIB" == none ]]; then
    CONFIGURE_FLAGS+=(--disable-sef-bridge)
  else
    CONFIGURE_FLAGS+=(--enable-sef-bridge)
  fi
}
if [[ -n "${SEF_QEMU_EXTRA_CONFIGURE:-}" ]]; then
  # shellcheck disable=SC2206 # word splitting intended
  CONFIGURE_FLAGS+=(${SEF_QEMU_EXTRA_CONFIGURE})
fi

# The content hash of the bridge library QEMU links (a new library means a new QEMU).
bridge_hash() {
  local p="$BRIDGE_LIB"
  if [[ "$p" == none ]]; then echo none; return; fi
  [[ -e "$p" ]] || die "SEF_QEMU_BRIDGE_LIB=$p does not exist"
  if [[ -d "$p" ]]; then
    (cd "$p" && find . -type f -print0 | LC_ALL=C sort -z | xargs -0 -r sha256sum) | sha256sum | cut -d' ' -f1
  else
    sha256sum <"$p" | cut -d' ' -f1
  fi
}

compute_key() {
  local version="$1" p
  {
    echo "recipe $RECIPE_VERSION"
    echo "source $SRC_PACKAGE $version"
    while IFS= read -r p; do
      [[ -f "$SERIES_DIR/$p" ]] || die "series lists '$p' but $SERIES_DIR/$p does not exist"
      echo "patch $p $(sha256sum <"$SERIES_DIR/$p" | cut -d' ' -f1)"
    done < <(series_patches)
    printf 'configure'; printf ' %q' "${CONFIGURE_FLAGS[@]}"; echo
    echo "compiler $(cc --version | head -n1)"
    echo "bridge $(bridge_hash)"
  } | tee "$KEY_MANIFEST" | sha256sum | cut -c1-16
}

# --- source ----------------------------------------------------------------------------------

# Fetches and unpacks the Debian source once per version into $SRC_CACHE/tree (Debian's own
# patches applied by dpkg-source). Sets PRISTINE.
fetch_source() {
  local version="$1"
  SRC_CACHE="$CACHE_ROOT/qemu-src/${SRC_PACKAGE}_${version//:/_}"
  PRISTINE="$SRC_CACHE/tree"
  [[ -f "$SRC_CACHE/.complete" && -d "$PRISTINE" ]] && return 0
  mkdir -p "$CACHE_ROOT/qemu-src"
  exec 8>"$CACHE_ROOT/qemu-src/.lock" # one fetch at a time; the loser finds it done
  flock 8
  [[ -f "$SRC_CACHE/.complete" && -d "$PRISTINE" ]] && return 0
  ensure_deb_src
  local tmp t0
  mkdir -p "$CACHE_ROOT/qemu-src"
  tmp="$(mktemp -d "$CACHE_ROOT/qemu-src/.tmp.XXXXXX")"
  t0=$(now)
  log "fetch: apt-get source $SRC_PACKAGE=$version..."
  (cd "$tmp" && apt-get source --download-only "$SRC_PACKAGE=$version") >"$tmp/fetch.log" 2>&1 \
    || { cp "$tmp/fetch.log" "$CACHE_ROOT/qemu-src/fetch-failed.log"; rm -rf "$tmp"; fail_step "fetch source ($SRC_PACKAGE=$version)" "$CACHE_ROOT/qemu-src/fetch-failed.log"; }
  local dsc
  dsc="$(ls "$tmp"/*.dsc | head -n1)"
  log "fetch: unpacking $(basename "$dsc") (dpkg-source -x, Debian's patches)..."
  dpkg-source -x "$dsc" "$tmp/tree" >>"$tmp/fetch.log" 2>&1 \
    || { cp "$tmp/fetch.log" "$CACHE_ROOT/qemu-src/fetch-failed.log"; rm -rf "$tmp"; fail_step "unpack source" "$CACHE_ROOT/qemu-src/fetch-failed.log"; }
  touch "$tmp/.complete"
  rm -rf "$SRC_CACHE"
  mv -T "$tmp" "$SRC_CACHE"
  log "fetch: done in $(($(now) - t0)) s ($(du -sh "$PRISTINE" | cut -f1) unpacked)"
  exec 8>&-
}

# apply_series TREE LOGDIR: applies the series with patch -p1, stopping at the first failure
# with a message naming the patch.
apply_series() {
  local tree="$1" logdir="$2" p n=0 total
  total="$(series_patches | wc -l)"
  while IFS= read -r p; do
    n=$((n + 1))
    local plog="$logdir/patch-$n.log"
    if ! patch -d "$tree" -p1 --batch --forward --fuzz=0 --no-backup-if-mismatch \
        -i "$SERIES_DIR/$p" >"$plog" 2>&1; then
      {
        echo "[qemu] PATCH FAILED: $p (patch $n of $total in $SERIES_DIR/series)"
        echo "[qemu] file: $SERIES_DIR/$p"
        echo "------------------------------------------------------------------------"
        tail -n 40 "$plog"
        echo "------------------------------------------------------------------------"
        echo "[qemu] FAILED at step: apply patch $p"
      } >&2
      return 1
    fi
    log "patch: applied $p ($n/$total)"
  done < <(series_patches)
}

# --- main ------------------------------------------------------------------------------------

mkdir -p "$CACHE_ROOT/qemu"
KEY_MANIFEST="$(mktemp)"
trap 'rm -f "$KEY_MANIFEST"' EXIT

VERSION="$(resolve_version)"

if [[ $MODE == check ]]; then
  fetch_source "$VERSION"
  scratch="$(mktemp -d "${TMPDIR:-/tmp}/sef-qemu-check.XXXXXX")"
  trap 'rm -rf "$scratch" "$KEY_MANIFEST"' EXIT
  t0=$(now)
  cp -al "$PRISTINE" "$scratch/src" # hard links: GNU patch writes new files, the cache stays intact
  log "check-patches: applying $(series_patches | wc -l) patch(es) from $SERIES_DIR to a scratch copy of $SRC_PACKAGE $VERSION"
  apply_series "$scratch/src" "$scratch" || exit 1
  log "check-patches: OK, the series applies ($(($(now) - t0)) s)"
  exit 0
fi

resolve_bridge
KEY="$(compute_key "$VERSION")"
OUT="$CACHE_ROOT/qemu/$KEY"
BIN="$OUT/bin/qemu-system-x86_64"

if [[ $MODE == key ]]; then
  echo "$KEY"
  exit 0
fi

# One build at a time per cache root; a second caller waits, then finds the result cached.
exec 9>"$CACHE_ROOT/qemu/.lock"
if ! flock -n 9; then
  log "another build holds $CACHE_ROOT/qemu/.lock; waiting..."
  flock 9
fi

if [[ $FORCE -eq 0 && -x "$BIN" && -f "$OUT/build-info.txt" ]]; then
  log "cached: $SRC_PACKAGE $VERSION + $(series_patches | wc -l) patch(es), key $KEY"
  echo "$BIN"
  exit 0
fi

T_START=$(now)
log "building $SRC_PACKAGE $VERSION + series $SERIES_DIR (key $KEY)"
fetch_source "$VERSION"

# Fixed work path (under the lock) so ccache sees identical paths from build to build.
WORK="$CACHE_ROOT/qemu-work"
rm -rf "$WORK"
mkdir -p "$WORK/logs"
LOGS="$WORK/logs"

t0=$(now)
log "prepare: copying the source tree..."
cp -a "$PRISTINE" "$WORK/src"
apply_series "$WORK/src" "$LOGS" || exit 1
[[ -f "$WORK/src/configs/devices/x86_64-softmmu/$DEVICE_CONFIG.mak" ]] \
  || die "the series did not create configs/devices/x86_64-softmmu/$DEVICE_CONFIG.mak"

export CCACHE_DIR="${CCACHE_DIR:-$CACHE_ROOT/ccache}"
export CCACHE_BASEDIR="$WORK"
export CCACHE_NOHASHDIR=1
export CCACHE_MAXSIZE="${CCACHE_MAXSIZE:-2G}"
mkdir -p "$CCACHE_DIR"
ccache -z >/dev/null 2>&1 || true

if [[ "$BRIDGE_LIB" != none && -d "$BRIDGE_LIB" ]]; then
  # Let configure/meson find the bridge's .pc file.
  export PKG_CONFIG_PATH="$BRIDGE_LIB:$BRIDGE_LIB/pkgconfig:$BRIDGE_LIB/lib/pkgconfig${PKG_CONFIG_PATH:+:$PKG_CONFIG_PATH}"
fi

t0=$(now)
log "configure (minimal x86_64-softmmu, devices: $DEVICE_CONFIG)..."
mkdir -p "$WORK/src/build"
(cd "$WORK/src/build" && nice -n 10 ../configure "${CONFIGURE_FLAGS[@]}") >"$LOGS/configure.log" 2>&1 \
  || {
    if [[ -f "$WORK/src/build/meson-logs/meson-log.txt" ]]; then
      { echo "--- end of build/meson-logs/meson-log.txt:"; tail -n 15 "$WORK/src/build/meson-logs/meson-log.txt"; } >>"$LOGS/configure.log"
    fi
    fail_step "configure" "$LOGS/configure.log"
  }
log "configure: done in $(($(now) - t0)) s"

t0=$(now)
JOBS="${SEF_QEMU_JOBS:-2}"
log "build (ninja -j$JOBS qemu-system-x86_64, nice'd; progress every 10%)..."
# ninja prints one "[n/total] ..." line per step when not on a terminal: keep the full output
# in the log and show only every tenth percent.
if ! (cd "$WORK/src/build" && nice -n 10 ninja -j"$JOBS" qemu-system-x86_64) 2>&1 \
    | tee "$LOGS/build.log" \
    | awk -v t0="$t0" '
        match($0, /^\[[0-9]+\/[0-9]+\]/) {
          split(substr($0, 2, RLENGTH - 2), a, "/")
          if (a[2] > 0) { p = int(a[1] * 100 / a[2]); if (p >= next_p) {
            printf "[qemu] build %3d%% (%d/%d steps, %d s)\n", p, a[1], a[2], systime() - t0 > "/dev/stderr"
            fflush("/dev/stderr"); next_p = p - p % 10 + 10 } }
        }'; then
  fail_step "build (ninja qemu-system-x86_64)" "$LOGS/build.log"
fi
log "build: done in $(($(now) - t0)) s ($(ccache -s 2>/dev/null | sed -n 's/^ *Hits: *\([0-9]*\) \/ *\([0-9]*\).*/ccache hits \1\/\2/p' | head -n1))"

"$WORK/src/build/qemu-system-x86_64" --version >"$LOGS/version.txt" 2>&1 \
  || fail_step "smoke test (qemu-system-x86_64 --version)" "$LOGS/version.txt"

# Install into a temporary directory, then rename: a half-written cache entry never looks valid.
TMP_OUT="$(mktemp -d "$CACHE_ROOT/qemu/.tmp-$KEY.XXXXXX")"
mkdir -p "$TMP_OUT/bin" "$TMP_OUT/logs"
install -m 0755 "$WORK/src/build/qemu-system-x86_64" "$TMP_OUT/bin/"
cp "$LOGS"/*.log "$TMP_OUT/logs/"
mkdir -p "$TMP_OUT/patches"
while IFS= read -r p; do cp "$SERIES_DIR/$p" "$TMP_OUT/patches/"; done < <(series_patches)
{
  echo "key: $KEY"
  echo "built: $(date -u +%Y-%m-%dT%H:%M:%SZ) in $(($(now) - T_START)) s"
  echo "qemu: $(head -n1 "$LOGS/version.txt")"
  echo "--- key inputs"
  cat "$KEY_MANIFEST"
} >"$TMP_OUT/build-info.txt"
rm -rf "$OUT"
mv -T "$TMP_OUT" "$OUT"
rm -rf "$WORK"
log "done in $(($(now) - T_START)) s: $BIN"
echo "$BIN"
