#!/usr/bin/env bash
# SPDX-License-Identifier: Apache-2.0
# checkstatic.sh BINARY: proves that BINARY (make static's bin/minimal) runs where no
# shared library exists. It must have no program interpreter and no dynamic section; then
# it runs, in a private mount namespace, chrooted into a root that holds only busybox and
# itself (no /lib, no /usr: no libc, libbpf, libelf or zlib), and must print the minimal
# program's trace line, "BPF triggered from PID <its pid>".
set -euo pipefail

log() { printf 'check-static: %s\n' "$*" >&2; }
die() { log "$*"; exit 1; }

[ $# -eq 1 ] || die "usage: checkstatic.sh BINARY"
bin=$1
[ -x "$bin" ] || die "$bin is not an executable: run make static"
[ "$(id -u)" -eq 0 ] || die "must run as root (chroot, mount, loading BPF)"
busybox=/bin/busybox
[ -x "$busybox" ] && ! ldd "$busybox" >/dev/null 2>&1 ||
	die "$busybox is missing or not static: apt-get install busybox-static (make deps does)"

if readelf -lW "$bin" | grep -q 'Requesting program interpreter'; then
	die "$bin asks for a program interpreter: it is not static"
fi
if readelf -dW "$bin" | grep -q NEEDED; then
	die "$bin needs shared libraries: $(readelf -dW "$bin" | awk '/NEEDED/ {print $NF}' | tr '\n' ' ')"
fi

root=$(mktemp -d "${TMPDIR:-/tmp}/bpfkit-static.XXXXXX")
trap 'rm -rf "$root"' EXIT
mkdir -p "$root"/{bin,proc,sys,tmp}
cp "$busybox" "$root/bin/busybox"
cp "$bin" "$root/bin/minimal"
cat >"$root/bin/run" <<'RUN'
#!/bin/busybox sh
set -e
/bin/busybox mount -t proc proc /proc
/bin/busybox mount -t sysfs sysfs /sys
/bin/busybox mount -t tracefs tracefs /sys/kernel/tracing
for d in /lib /lib64 /usr; do
	if [ -e "$d" ]; then echo "check-static: $d exists in the empty root" >&2; exit 1; fi
done
exec /bin/minimal -duration 3s
RUN
chmod +x "$root/bin/run"

out=$root/out
# unshare -m: the mounts above vanish with the namespace; nothing is left behind.
if ! unshare -m --propagation private chroot "$root" /bin/run >"$out" 2>&1; then
	cat "$out" >&2
	die "$bin failed in an empty root"
fi
cat "$out"
pid=$(sed -n 's/^Successfully started! PID \([0-9]*\);.*/\1/p' "$out")
[ -n "$pid" ] || die "$bin did not say it started"
grep -q "BPF triggered from PID $pid\.\$" "$out" || die "$bin printed no trace line of PID $pid"
log "ok: $bin is static and printed its trace line in a root with no shared libraries"
