#!/usr/bin/env bash
# SPDX-License-Identifier: Apache-2.0
# gotest.sh -k KERNEL [-m MODULE]… PACKAGE [TEST FLAG]…: runs a package's tests inside a
# kernel under qemu (scripts/vm/run.sh), as root, with BPFKIT_REQUIRE_PRIVILEGED=1.
#
#   scripts/vm/gotest.sh -k 6.12 ./loader -test.run 'TestUnsupportedHere|TestAttach'
#
# The package's test binary is built fully static (the build tag static and the flags of
# make static, so cgo packages work too) and placed in the VM at the package's own path
# under /bpfkit, beside a copy of bpf/ (the objects tests read by relative path); it runs
# in that folder with -test.v, -test.count 1 and the flags given. Exit status: the test
# binary's, 125 when the VM reported none (see run.sh).
#
# Environment: GO, VM_TIMEOUT (default 600), STATIC_TAGS, STATIC_LDFLAGS (as make static),
# BPFKIT_VM_CACHE (kernel.sh).
set -euo pipefail

cd "$(dirname "$0")/../.."
GO=${GO:-go}
STATIC_TAGS=${STATIC_TAGS:-static,netgo,osusergo}
STATIC_LDFLAGS=${STATIC_LDFLAGS:--linkmode external -extldflags "-static"}
log() { printf 'vm-test: %s\n' "$*" >&2; }

kernel="" mods=()
while [ $# -gt 0 ]; do
	case $1 in
	-k) kernel=$2; shift 2 ;;
	-m) mods+=(-m "$2"); shift 2 ;;
	*) break ;;
	esac
done
[ -n "$kernel" ] && [ $# -ge 1 ] || { log "usage: gotest.sh -k KERNEL [-m MODULE]… PACKAGE [TEST FLAG]…"; exit 126; }
pkg=$1
shift
dir=$($GO list -f '{{.Dir}}' "$pkg")
rel=${dir#"$(pwd)"/}
[ "$rel" != "$dir" ] || { log "$pkg is not in this module"; exit 126; }
name=$(basename "$rel")

work=$(mktemp -d "${TMPDIR:-/tmp}/bpfkit-vm-test.XXXXXX")
trap 'rm -rf "$work"' EXIT
log "building the static test binary of $pkg"
$GO test -c -tags "$STATIC_TAGS" -ldflags "$STATIC_LDFLAGS" -o "$work/$name.test" "$pkg"

exec_args=("./$name.test" -test.v -test.count 1 "$@")
scripts/vm/run.sh -k "$kernel" -t "${VM_TIMEOUT:-600}" "${mods[@]}" \
	-a "$work/$name.test=/bpfkit/$rel/$name.test" -a "bpf=/bpfkit/bpf" \
	-C "/bpfkit/$rel" -e BPFKIT_REQUIRE_PRIVILEGED=1 -- "${exec_args[@]}"
