#!/usr/bin/env bash
# SPDX-License-Identifier: Apache-2.0
# kernel.sh SERIES: prints the directory holding Debian's cloud kernel of that series
# (6.1, 6.12 …), unpacked from its package: boot/vmlinuz-*, boot/config-*, lib/modules/*.
#
# The newest version of Debian's linux-image-cloud-amd64 metapackage whose version starts
# with SERIES (bookworm has 6.1, bookworm-backports 6.12) names the kernel package. It is
# fetched with `apt-get download` and unpacked with `dpkg -x` into the cache
# (BPFKIT_VM_CACHE, default ~/.cache/bpfkit/vm); nothing is installed, this machine's
# kernel is never touched. A second run finds it in the cache and prints at once.
#
# SERIES may also be a package name with its version, linux-image-…-cloud-amd64=VERSION,
# to pin one.
set -euo pipefail

log() { printf 'vm: %s\n' "$*" >&2; }
die() { log "$*"; exit 1; }

[ $# -eq 1 ] || die "usage: kernel.sh SERIES (6.1, 6.12) | PACKAGE=VERSION"
want=$1
cache=${BPFKIT_VM_CACHE:-${XDG_CACHE_HOME:-$HOME/.cache}/bpfkit/vm}
meta=linux-image-cloud-amd64

# resolve SERIES: prints "PACKAGE VERSION" of the newest kernel of the series.
resolve() {
	local series=$1 best="" v
	while read -r v; do
		case $v in "$series".*) ;; *) continue ;; esac
		if [ -z "$best" ] || dpkg --compare-versions "$v" gt "$best"; then best=$v; fi
	done < <(apt-cache madison "$meta" | awk -F'|' '{gsub(/ /, "", $2); print $2}')
	[ -n "$best" ] || return 1
	local pkg
	pkg=$(apt-cache show "$meta=$best" | awk '/^Depends:/ {
		for (i = 2; i <= NF; i++) if ($i ~ /^linux-image-/) { sub(/,$/, "", $i); print $i; exit } }')
	[ -n "$pkg" ] || return 1
	echo "$pkg $best"
}

case $want in
*=*) pkg=${want%%=*} ver=${want#*=} ;;
*)
	if ! read -r pkg ver < <(resolve "$want"); then
		log "no $meta $want.* in the apt lists: apt-get update"
		apt-get update -qq
		read -r pkg ver < <(resolve "$want") ||
			die "no $meta version $want.* in any apt source (6.12 needs bookworm-backports: make deps adds it)"
	fi
	;;
esac

dir=$cache/${pkg}_${ver}
if [ -f "$dir/.unpacked" ]; then
	echo "$dir"
	exit 0
fi

mkdir -p "$cache"
tmp=$(mktemp -d "$cache/.dl.XXXXXX")
trap 'rm -rf "$tmp"' EXIT
log "downloading $pkg=$ver"
# apt's sandbox user cannot write into root's cache; the warning about it is noise.
if ! (cd "$tmp" && apt-get download -q "$pkg=$ver" 2>&1 | grep -v "unsandboxed as root" >&2; exit "${PIPESTATUS[0]}"); then
	log "download failed: apt-get update, then once more"
	apt-get update -qq
	(cd "$tmp" && apt-get download -q "$pkg=$ver" 2>&1 | grep -v "unsandboxed as root" >&2; exit "${PIPESTATUS[0]}") ||
		die "apt-get download $pkg=$ver failed"
fi
deb=$(find "$tmp" -maxdepth 1 -name '*.deb' -print -quit)
[ -n "$deb" ] || die "apt-get download $pkg=$ver wrote no .deb"
rm -rf "$dir"
mkdir -p "$tmp/x"
dpkg -x "$deb" "$tmp/x"
ls "$tmp"/x/boot/vmlinuz-* >/dev/null 2>&1 || die "$pkg has no boot/vmlinuz-*"
mv "$tmp/x" "$dir"
touch "$dir/.unpacked"
log "unpacked $pkg=$ver into $dir"
echo "$dir"
