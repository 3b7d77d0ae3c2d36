#!/usr/bin/env bash
# SPDX-License-Identifier: Apache-2.0
# Installs what bpfkit needs on a fresh Debian 12 (bookworm) machine and mounts the
# filesystems its tests use. Idempotent: a second run only checks.
set -euo pipefail

log() { printf 'deps: %s\n' "$*" >&2; }

if [ "$(id -u)" -ne 0 ]; then
  log "must run as root (apt-get install, mount); run: sudo make deps"
  exit 1
fi

need_install=0
pkgconfig_libbpf_ok() {
  pkg-config --exists 'libbpf >= 1.4' 2>/dev/null
}
for tool in clang clang-19 llc bpftool pkg-config; do
  command -v "$tool" >/dev/null 2>&1 || need_install=1
done
pkgconfig_libbpf_ok || need_install=1
[ -f /usr/include/gelf.h ] || need_install=1
[ -f /usr/include/zlib.h ] || need_install=1
# make static links libzstd.a and check-static runs it in a root holding only
# busybox-static; make test-kernels boots qemu with a busybox initramfs (cpio).
[ -f "/usr/lib/$(uname -m)-linux-gnu/libzstd.a" ] || need_install=1
for tool in qemu-system-x86_64 cpio; do
  command -v "$tool" >/dev/null 2>&1 || need_install=1
done
{ [ -x /bin/busybox ] && ! ldd /bin/busybox >/dev/null 2>&1; } || need_install=1

if [ "$need_install" -eq 1 ]; then
  src=/etc/apt/sources.list.d/bookworm-backports.sources
  if [ ! -f "$src" ]; then
    # The backports suite lives on the same mirror as the machine's main Debian entry.
    uri=""
    if [ -f /etc/apt/sources.list.d/debian.sources ]; then
      uri=$(awk '/^URIs:/ {print $2; exit}' /etc/apt/sources.list.d/debian.sources)
    fi
    if [ -z "$uri" ] && [ -f /etc/apt/sources.list ]; then
      uri=$(awk '$1 == "deb" && $3 ~ /^bookworm$/ {print $2; exit}' /etc/apt/sources.list)
    fi
    if [ -z "$uri" ]; then
      log "cannot find the machine's Debian mirror in /etc/apt/sources.list.d/debian.sources"
      exit 1
    fi
    log "adding bookworm-backports from $uri"
    cat >"$src" <<SRC
Types: deb
URIs: $uri
Suites: bookworm-backports
Components: main
Signed-By: /usr/share/keyrings/debian-archive-keyring.gpg
SRC
  fi
  export DEBIAN_FRONTEND=noninteractive
  log "apt-get update"
  apt-get update -qq
  log "installing libbpf-dev, bpftool, linux-libc-dev from bookworm-backports"
  apt-get install -y -qq -t bookworm-backports libbpf-dev bpftool linux-libc-dev >/dev/null
  # clang-19 (Debian 12's own) builds the BPF objects that need clang >= 15 (__kptr's
  # btf_type_tag); clang (14) builds the others (Makefile: BPF_CLANG19_SRCS).
  log "installing clang, clang-19, llvm, libelf-dev, zlib1g-dev, pkg-config"
  apt-get install -y -qq clang clang-19 llvm libelf-dev zlib1g-dev pkg-config >/dev/null
  log "installing libzstd-dev, busybox-static (make static), qemu-system-x86, cpio (make test-kernels)"
  apt-get install -y -qq --no-install-recommends libzstd-dev qemu-system-x86 busybox-static cpio >/dev/null
fi

pkgconfig_libbpf_ok || { log "libbpf >= 1.4 not found by pkg-config after install"; exit 1; }

if ! mountpoint -q /sys/kernel/tracing; then
  log "mounting tracefs on /sys/kernel/tracing"
  mount -t tracefs tracefs /sys/kernel/tracing
fi
if ! mountpoint -q /sys/fs/bpf; then
  log "mounting bpffs on /sys/fs/bpf"
  mount -t bpf bpf /sys/fs/bpf
fi
log "ok: libbpf $(pkg-config --modversion libbpf), $(clang --version | head -1), $(clang-19 --version | head -1)"
