#!/usr/bin/env bash
# SPDX-License-Identifier: Apache-2.0
# run.sh [options] -- COMMAND [ARG…]: boots a kernel in qemu (TCG) with an initramfs that
# holds busybox and the files given, runs COMMAND as root inside, prints what it prints,
# powers the VM off and exits with COMMAND's exit status.
#
#   -k, --kernel K     6.1, 6.12 … (Debian's cloud kernel, fetched by kernel.sh) or a
#                      directory kernel.sh printed (required)
#   -a, --add SRC=DST  copy file or directory SRC to DST in the VM (repeatable)
#   -C, --cwd DIR      run COMMAND in DIR (default /)
#   -e, --env K=V      set K=V for COMMAND (repeatable)
#   -m, --module NAME  load the kernel's module NAME (and what it needs) first (repeatable)
#   -t, --timeout S    give up after S seconds of wall time (default 600)
#   -q, --quiet        do not echo the VM's console; it is still in --log
#   -l, --log FILE     also write the console to FILE
#
# Everything goes into the initramfs (Debian's cloud kernels have no 9p or virtiofs):
# keep what you add small. Inside, /proc, /sys, /dev (devtmpfs), /sys/fs/bpf,
# /sys/kernel/tracing, /sys/fs/cgroup (cgroup2), /tmp and /run are mounted and lo is up.
# COMMAND must run without shared libraries (a static binary, CGO_ENABLED=0 or
# `go test -c -tags static …`: see the README's static build).
#
# Exit status: COMMAND's; 125 when the VM ended without reporting one (a timeout, a
# kernel panic, COMMAND killed the VM), 126 on a usage or setup error.
set -euo pipefail

here=$(cd "$(dirname "$0")" && pwd)
log() { printf 'vm: %s\n' "$*" >&2; }
die() { log "$*"; exit 126; }

kernel="" cwd=/ timeout=600 quiet=0 logfile=""
adds=() envs=() modules=()
while [ $# -gt 0 ]; do
	case $1 in
	-k | --kernel) kernel=$2; shift 2 ;;
	-a | --add) adds+=("$2"); shift 2 ;;
	-C | --cwd) cwd=$2; shift 2 ;;
	-e | --env) envs+=("$2"); shift 2 ;;
	-m | --module) modules+=("$2"); shift 2 ;;
	-t | --timeout) timeout=$2; shift 2 ;;
	-q | --quiet) quiet=1; shift ;;
	-l | --log) logfile=$2; shift 2 ;;
	--) shift; break ;;
	*) die "unknown option $1 (see the head of $0)" ;;
	esac
done
[ $# -gt 0 ] || die "no command: run.sh -k KERNEL [options] -- COMMAND [ARG…]"
[ -n "$kernel" ] || die "no kernel: -k 6.1, -k 6.12 or a directory kernel.sh printed"
for tool in qemu-system-x86_64 cpio gzip; do
	command -v "$tool" >/dev/null || die "$tool not found: make deps installs qemu-system-x86, busybox-static and cpio"
done
busybox=/bin/busybox
[ -x "$busybox" ] && ! ldd "$busybox" >/dev/null 2>&1 ||
	die "$busybox is missing or not static: apt-get install busybox-static (make deps does)"

if [ -d "$kernel" ]; then kdir=$kernel; else kdir=$("$here/kernel.sh" "$kernel"); fi
vmlinuz=$(ls "$kdir"/boot/vmlinuz-* 2>/dev/null | head -1)
[ -n "$vmlinuz" ] || die "no boot/vmlinuz-* in $kdir"
release=${vmlinuz##*/vmlinuz-}

work=$(mktemp -d "${TMPDIR:-/tmp}/bpfkit-vm.XXXXXX")
trap 'rm -rf "$work"' EXIT
root=$work/root
mkdir -p "$root"/{bin,dev,proc,sys,tmp,run,etc}
cp "$busybox" "$root/bin/busybox"

for a in "${adds[@]}"; do
	src=${a%%=*} dst=${a#*=}
	[ "$src" != "$a" ] && [ -n "$dst" ] || die "--add wants SRC=DST, got $a"
	[ -e "$src" ] || die "--add: $src does not exist"
	mkdir -p "$root/$(dirname "$dst")"
	cp -a "$src" "$root/$dst"
done

# Modules: copied with every module they depend on (the depends= of their .modinfo; the
# package has no modules.dep, which depmod makes at install time), uncompressed, and
# loaded by the init script with those they need first.
modlist=()
if [ ${#modules[@]} -gt 0 ]; then
	mdir=$kdir/lib/modules/$release
	[ -d "$mdir/kernel" ] || die "no $mdir/kernel"
	declare -A path=() seen=()
	while read -r f; do
		n=$(basename "${f%%.ko*}")
		path[${n//-/_}]=$f
	done < <(find "$mdir/kernel" -name '*.ko*')
	mkdir -p "$root/lib/modules"
	# add NAME: unpacks NAME's module after those it depends on.
	add() {
		local n=${1//-/_} f out d
		[ -z "${seen[$n]:-}" ] || return 0
		seen[$n]=1
		f=${path[$n]:-}
		if [ -z "$f" ]; then
			grep -qE "/${n//_/[-_]}\.ko" "$mdir/modules.builtin" 2>/dev/null && return 0
			die "kernel $release has no module $1"
		fi
		out=$root/lib/modules/$n.ko
		case $f in
		*.ko.xz) xz -dc "$f" >"$out" ;;
		*.ko.zst) zstd -qdc "$f" >"$out" ;;
		*.ko.gz) gzip -dc "$f" >"$out" ;;
		*) cp "$f" "$out" ;;
		esac
		for d in $(strings -a "$out" | sed -n 's/^depends=//p' | tr ',' ' '); do add "$d"; done
		modlist+=("/lib/modules/$n.ko")
	}
	for m in "${modules[@]}"; do add "$m"; done
fi

# quote WORD: WORD in single quotes for the init script.
quote() { printf "'%s'" "${1//\'/\'\\\'\'}"; }
cmdline=""
for w in "$@"; do cmdline+="$(quote "$w") "; done
envline=""
for e in "${envs[@]}"; do
	[ "${e%%=*}" != "$e" ] || die "--env wants K=V, got $e"
	envline+="export ${e%%=*}=$(quote "${e#*=}"); "
done
insmods=""
for m in "${modlist[@]}"; do insmods+="insmod $m || echo \"vm: insmod $m failed\"; "; done

# The marker line is how the host learns COMMAND's exit status.
marker=bpfkit-vm-exit
cat >"$root/init" <<INIT
#!/bin/busybox sh
/bin/busybox --install -s /bin
export PATH=/bin HOME=/root TMPDIR=/tmp
mount -t proc proc /proc
mount -t sysfs sysfs /sys
mount -t devtmpfs devtmpfs /dev
mount -t tmpfs tmpfs /tmp
mount -t tmpfs tmpfs /run
mount -t bpf bpf /sys/fs/bpf
mount -t tracefs tracefs /sys/kernel/tracing
mount -t cgroup2 cgroup2 /sys/fs/cgroup
ip link set lo up
$insmods
echo "vm: kernel \$(uname -r) is up"
cd $(quote "$cwd") && { $envline $cmdline; }
rc=\$?
echo
echo "$marker \$rc"
sync
poweroff -f
INIT
chmod +x "$root/init"

(cd "$root" && find . -print0 | cpio --null -o -H newc --quiet | gzip -1) >"$work/initrd.gz"

console=$work/console
: >"$console"
log "booting $release ($(du -h "$work/initrd.gz" | cut -f1) initramfs, timeout ${timeout}s)"
start=$(date +%s%N)
set +e
# -nodefaults: no VGA, NIC or disk; the one serial port is the console. TCG: KVM does
# not work on these machines. -cx16: with cmpxchg16b, QEMU 7.2's TCG corrupted the flags
# of 6.12's SLUB fast path (5 of 12 boots died of double faults in kmem_cache_alloc).
# panic=-1, oops=panic and -no-reboot: a panic or an oops ends the VM at once.
# no_timer_check: a slow TCG boot can fail 6.1's IO-APIC timer check and panic.
timeout -k 5 "$timeout" qemu-system-x86_64 -accel tcg -cpu qemu64,-cx16 -smp 1 -m 1024 \
	-nodefaults -display none -no-reboot -serial stdio -monitor none \
	-kernel "$vmlinuz" -initrd "$work/initrd.gz" \
	-append "console=ttyS0 panic=-1 oops=panic no_timer_check quiet loglevel=4 rdinit=/init" </dev/null 2>&1 |
	tr -d '\r' | if [ "$quiet" = 1 ]; then cat >"$console"; else tee "$console"; fi
qrc=${PIPESTATUS[0]}
set -e
ms=$((($(date +%s%N) - start) / 1000000))
secs=$((ms / 1000)).$(printf '%03d' $((ms % 1000)))
[ -z "$logfile" ] || cp "$console" "$logfile"

rc=$(sed -n "s/^$marker \([0-9][0-9]*\)$/\1/p" "$console" | tail -1)
if [ -z "$rc" ]; then
	if [ "$qrc" = 124 ] || [ "$qrc" = 137 ]; then
		log "$release: no result: the VM was still running after ${timeout}s"
	elif grep -q "Kernel panic" "$console"; then
		log "$release: no result: kernel panic: $(grep -m1 'Kernel panic' "$console")"
	else
		log "$release: no result: qemu exited with status $qrc before the command reported one"
	fi
	[ "$quiet" = 0 ] || tail -20 "$console" >&2
	exit 125
fi
log "$release: exit status $rc after ${secs}s"
exit "$rc"
