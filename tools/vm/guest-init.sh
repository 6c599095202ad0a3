#!/bin/sh
# /init of the test guest's initramfs (busybox sh). Built in by tools/vm/build_guest.sh; driven by
# tools/vm/run_vm.sh through the kernel command line:
#   sef.mode=script|shell   run /sef/script (appended to the initramfs by run_vm.sh) and power
#                           off, or run it (if present) and then an interactive shell
#   sef.modules=a,b         extra modules from the initramfs to load (e.g. zonefs,f2fs)
#   sef.out=1               a 9p share tagged "sefout" is present: mount it writable at /tmp/out
# It loads the boot modules, mounts the host root read-only over 9p (tag "hostroot") at /newroot
# with tmpfs on /tmp and /run, mounts devtmpfs at /newroot/dev too, moves /proc /sys there, and
# runs the script chrooted, as root, in /tmp, with SEF_OUT=/tmp/out. /dev stays mounted in the
# initramfs as well: this init (pid 1) chroots only its children, so kernel threads, which share
# pid 1's root, resolve paths in the initramfs (a module that opens /dev/nvmeN from a kernel
# thread, like the SEF SDK's sef.ko, finds it there). devtmpfs is one instance: both mounts show
# the same, live device nodes. It prints "SEF-VM-BEGIN" before the script and
# "SEF-VM-EXIT=<status>" after it, then powers off.
/bin/busybox mkdir -p /usr/bin /usr/sbin
/bin/busybox --install -s
export PATH=/bin:/sbin:/usr/bin:/usr/sbin

mount -t proc proc /proc
mount -t sysfs sysfs /sys
mount -t devtmpfs devtmpfs /dev

KVER="$(cat /etc/sef-kernel-version)"
MODDIR="/lib/modules/$KVER"
MODE=script
EXTRA=""
OUT=0
for arg in $(cat /proc/cmdline); do
  case "$arg" in
    sef.mode=*) MODE="${arg#sef.mode=}" ;;
    sef.modules=*) EXTRA="$(echo "${arg#sef.modules=}" | tr ',' ' ')" ;;
    sef.out=*) OUT="${arg#sef.out=}" ;;
  esac
done

fail() {
  echo "sef-init: $*"
  echo "SEF-VM-EXIT=125"
  poweroff -f
  sleep 10
}

load_list() { # file with module paths relative to $MODDIR
  while read -r rel; do
    name="$(basename "$rel" .ko | tr '-' '_')"
    [ -d "/sys/module/$name" ] && continue
    insmod "$MODDIR/$rel" 2>/tmp/insmod.err || {
      # a CPU-specific implementation (e.g. *-pclmul) may refuse to load; its generic twin does
      grep -q 'No such device' /tmp/insmod.err || echo "sef-init: insmod $rel: $(cat /tmp/insmod.err)"
    }
  done <"$1"
}

mkdir -p /tmp
load_list /etc/sef-modules/boot
for m in $EXTRA; do
  f="/etc/sef-modules/$(echo "$m" | tr '-' '_')"
  if [ -f "$f" ]; then load_list "$f"; else echo "sef-init: unknown extra module '$m'"; fi
done

mount -t 9p -o trans=virtio,version=9p2000.L,ro,cache=loose,msize=262144 hostroot /newroot \
  || fail "cannot mount the host root (9p tag hostroot)"
mount -t tmpfs -o mode=1777 tmpfs /newroot/tmp || fail "cannot mount tmpfs on /tmp"
[ -d /newroot/run ] && mount -t tmpfs -o mode=755 tmpfs /newroot/run
mkdir -p /newroot/tmp/out /newroot/tmp/.sef
if [ "$OUT" = 1 ]; then
  mount -t 9p -o trans=virtio,version=9p2000.L,rw,msize=262144 sefout /newroot/tmp/out \
    || fail "cannot mount the output share (9p tag sefout)"
fi
[ -f /sef/script ] && cp /sef/script /newroot/tmp/.sef/script && chmod 0755 /newroot/tmp/.sef/script
[ -f /sef/env ] && cp /sef/env /newroot/tmp/.sef/env
mount -t devtmpfs devtmpfs /newroot/dev || fail "cannot mount devtmpfs on /newroot/dev"
mount --move /proc /newroot/proc
mount --move /sys /newroot/sys
[ -e /newroot/dev/fd ] || ln -s /proc/self/fd /newroot/dev/fd 2>/dev/null

# Environment of the script: clean, plus the KEY=VALUE lines of /sef/env (run_vm.sh --env).
run_in_root() { # command...
  chroot /newroot /usr/bin/env -i HOME=/root TERM="${TERM:-linux}" \
    PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin \
    SEF_OUT=/tmp/out SEF_VM=1 /bin/sh -c \
    'cd /tmp && if [ -f /tmp/.sef/env ]; then set -a; . /tmp/.sef/env; set +a; fi; exec "$@"' sh "$@"
}

rc=0
if [ -f /newroot/tmp/.sef/script ]; then
  echo "SEF-VM-BEGIN"
  if [ "$MODE" = shell ]; then
    run_in_root /tmp/.sef/script </newroot/dev/console >/newroot/dev/console 2>&1
  else
    run_in_root /tmp/.sef/script </newroot/dev/null >/newroot/dev/console 2>&1
  fi
  rc=$?
  echo "SEF-VM-EXIT=$rc"
fi
if [ "$MODE" = shell ]; then
  echo "sef-init: interactive shell (host root read-only at /, writable /tmp, outputs in /tmp/out);"
  echo "sef-init: exit the shell to power off."
  run_in_root setsid -c /bin/bash -l </newroot/dev/ttyS0 >/newroot/dev/ttyS0 2>&1
fi
sync
umount /newroot/tmp/out 2>/dev/null
poweroff -f
sleep 10
