#!/usr/bin/env bash
# SPDX-License-Identifier: Apache-2.0
# testkernels.sh: make test-kernels. Runs the spin-lock check's differential test
# (spinlock/kerneltest TestDifferential), the kernel tests whose objects are built with
# clang-19 and bpftool (arenas, may_goto loops, linked parts: built on this machine first,
# BPFKIT_KERNELTEST_OBJS, since the VMs have neither tool) and the static minimal example
# in Debian's kernels under qemu (KERNELS, default "6.1 6.12"), and on this machine's own
# kernel directly; prints, per kernel, how many corpus programs the check and the kernel
# agree on, every disagreement in the test's words, how many of the built-object tests
# passed (and skipped: a kernel without arenas), whether minimal printed its trace line,
# and the wall time. Fails on any disagreement or failing test, on a VM that reported no
# result (a timeout, a panic), and on a minimal run without its trace line.
#
# Environment: KERNELS, VM_TIMEOUT (seconds per VM, default 300), BPFKIT_VM_CACHE
# (kernel.sh), STATIC_TAGS and STATIC_LDFLAGS (the Makefile's static build flags),
# TEST_KERNELS_LOGS (where each kernel's full console log is kept, default
# /tmp/bpfkit-test-kernels).
set -euo pipefail

cd "$(dirname "$0")/../.."
here=scripts/vm
GO=${GO:-go}
KERNELS=${KERNELS:-6.1 6.12}
VM_TIMEOUT=${VM_TIMEOUT:-300}
STATIC_TAGS=${STATIC_TAGS:-static,netgo,osusergo}
STATIC_LDFLAGS=${STATIC_LDFLAGS:--linkmode external -extldflags "-static"}

log() { printf 'test-kernels: %s\n' "$*" >&2; }
now() { date +%s%N; }
secs() { local ms=$((($2 - $1) / 1000000)); printf '%d.%01d' $((ms / 1000)) $((ms % 1000 / 100)); }

[ "$(id -u)" -eq 0 ] || { log "must run as root (loading BPF programs here; apt-get download)"; exit 1; }
t0=$(now)

work=$(mktemp -d "${TMPDIR:-/tmp}/bpfkit-test-kernels.XXXXXX")
trap 'rm -rf "$work"' EXIT
logs=${TEST_KERNELS_LOGS:-${TMPDIR:-/tmp}/bpfkit-test-kernels}
mkdir -p "$logs"

# 1. The binaries, fully static: the initramfs has no shared library at all.
log "building the static test binary of ./spinlock/kerneltest and examples/minimal"
tb=$(now)
$GO test -c -tags "$STATIC_TAGS" -ldflags "$STATIC_LDFLAGS" -o "$work/kerneltest.test" ./spinlock/kerneltest
$GO build -tags "$STATIC_TAGS" -ldflags "$STATIC_LDFLAGS" -o "$work/minimal" ./examples/minimal
build_time=$(secs "$tb" "$(now)")

# The tests whose objects clang-19 and bpftool build: this machine builds them into
# $work/objs (its own run, below, comes first), and each VM takes them from there.
built='TestArena|TestMayGotoLoops|TestLinkedParts|TestLockFreeGlobalFunction|TestUnfinishedRoot'
tests="^(TestDifferential|$built)\$"
mkdir -p "$work/objs"

# The guest's command: the differential test, then minimal; each reports its status.
cat >"$work/guest.sh" <<GUEST
cd /bpfkit/spinlock/kerneltest || exit 1
BPFKIT_KERNELTEST_OBJS=/bpfkit/objs ./kerneltest.test -test.run '$tests' -test.v -test.count 1
GUEST
cat >>"$work/guest.sh" <<'GUEST'
d=$?
echo "bpfkit-differential-exit $d"
/bpfkit/minimal -duration 3s
m=$?
echo "bpfkit-minimal-exit $m"
[ "$d" -eq 0 ] && [ "$m" -eq 0 ]
GUEST

# report NAME LOG: prints the differential's summary and each failing program with the
# test's messages; sets agree (n/m), lacking (programs that could not load), disagree
# (count) and trace (ok/none).
report() {
	local name=$1 f=$2
	agree_line=$(sed -n 's/^ *diff_test.go:[0-9]*: \(check vs kernel .*\)$/\1/p' "$f" | tail -1)
	disagree=$(grep -c '^    --- FAIL: TestDifferential/' "$f" || true)
	agree=$(echo "$agree_line" | sed -n 's/.*: \([0-9]*\/[0-9]*\) programs agree.*/\1/p')
	lacking=$(echo "$agree_line" | sed -n 's/.*; \([0-9]*\) could not load.*/\1/p')
	agree=${agree:-?} lacking=${lacking:-0}
	if [ -n "$agree_line" ]; then log "$name: $agree_line"; else log "$name: the differential test printed no summary"; fi
	if [ "$disagree" -gt 0 ]; then
		log "$name: $disagree disagreements:"
		awk '
			/^=== (RUN|NAME|CONT) +TestDifferential\// { cur = $3; next }
			/^ +diff_test\.go:[0-9]+: / && cur != "" { sub(/^ +/, ""); msg[cur] = msg[cur] "\n        " $0; next }
			/^    --- FAIL: TestDifferential\// { failed[++n] = $3 }
			END { for (i = 1; i <= n; i++) printf "    %s%s\n", failed[i], msg[failed[i]] }
		' "$f" >&2
	fi
	local pid
	pid=$(sed -n 's/^Successfully started! PID \([0-9]*\);.*/\1/p' "$f" | tail -1)
	if [ -n "$pid" ] && grep -q "BPF triggered from PID $pid\.\$" "$f"; then trace=ok; else trace=none; fi
	local pass fail skip
	pass=$(grep -cE "^--- PASS: ($built) " "$f" || true)
	fail=$(grep -cE "^--- FAIL: ($built) " "$f" || true)
	skip=$(grep -cE "^--- SKIP: ($built) " "$f" || true)
	nbuilt=$(echo "$built" | tr '|' '\n' | wc -l)
	builtres="$pass/$nbuilt"
	[ "$skip" -eq 0 ] || builtres="$builtres ($skip skip)"
	if [ "$fail" -gt 0 ] || [ $((pass + skip)) -ne "$nbuilt" ]; then
		builtres="$builtres FAIL"
		log "$name: built-object tests: $pass passed, $skip skipped, $fail failed of $nbuilt:"
		awk -v re="^($built)(/|\$)" '
			/^=== (RUN|NAME|CONT) / { top = $3; sub(/\/.*/, "", top); if ($3 !~ re) top = ""; if (top != cur) out = ""; cur = top; next }
			cur != "" && /^--- FAIL: / { printf "    %s\n%s", cur, out; cur = ""; next }
			cur != "" { out = out "        " $0 "\n" }
		' "$f" >&2
	fi
}

rows=()
row='%-6s %-30s %-8s %-9s %-12s %-16s %-8s %-7s %-7s'
failed=0
# This machine's kernel first, directly: the same static binaries; its run builds the
# objects of the built-object tests for the VMs.
k=$(uname -r)
f=$logs/host.log
tv=$(now)
set +e
(cd spinlock/kerneltest && BPFKIT_REQUIRE_PRIVILEGED=1 BPFKIT_KERNELTEST_OBJS="$work/objs" "$work/kerneltest.test" -test.run "$tests" -test.v -test.count 1) >"$f" 2>&1
d=$?
bash scripts/checkstatic.sh "$work/minimal" >>"$f" 2>&1
m=$?
set -e
host_time=$(secs "$tv" "$(now)")
report "$k" "$f"
verdict=ok
{ [ "$d" -eq 0 ] && [ "$m" -eq 0 ] && [ "$trace" = ok ] && [[ $builtres != *FAIL* ]]; } || { verdict=FAIL; failed=1; }
[ "$m" -eq 0 ] || { log "this machine: checkstatic.sh failed:"; tail -5 "$f" >&2; }
series=$(echo "$k" | sed -E 's/^([0-9]+\.[0-9]+).*/\1/')
rows+=("$(printf "$row" "$series" "$k (no VM)" "$agree" "$disagree" "$lacking" "$builtres" "$trace" - "${host_time}s") $verdict")

for k in $KERNELS; do
	tf=$(now)
	kdir=$("$here/kernel.sh" "$k")
	fetch_time=$(secs "$tf" "$(now)")
	f=$logs/$k.log
	tv=$(now)
	set +e
	"$here/run.sh" -k "$kdir" -t "$VM_TIMEOUT" -q -l "$f" \
		-a "$work/kerneltest.test=/bpfkit/spinlock/kerneltest/kerneltest.test" \
		-a "bpf/testdata/spinlock=/bpfkit/bpf/testdata/spinlock" \
		-a "$work/minimal=/bpfkit/minimal" -a "$work/guest.sh=/bpfkit/guest.sh" -a "$work/objs=/bpfkit/objs" \
		-e BPFKIT_REQUIRE_PRIVILEGED=1 -- sh /bpfkit/guest.sh
	rc=$?
	set -e
	vm_time=$(secs "$tv" "$(now)")
	release=$(sed -n 's/^vm: kernel \(.*\) is up$/\1/p' "$f" | head -1)
	report "$k" "$f"
	d=$(sed -n 's/^bpfkit-differential-exit \([0-9]*\)$/\1/p' "$f")
	m=$(sed -n 's/^bpfkit-minimal-exit \([0-9]*\)$/\1/p' "$f")
	verdict=ok
	if [ "$rc" -eq 125 ] || [ -z "$d" ] || [ -z "$m" ]; then
		verdict="no result (run.sh status $rc)"
		log "$k: the VM reported no result; its console: $f"
		tail -25 "$f" >&2
	elif [ "$d" -ne 0 ] || [ "$m" -ne 0 ] || [ "$trace" != ok ] || [[ $builtres == *FAIL* ]]; then
		verdict=FAIL
	fi
	[ "$verdict" = ok ] || failed=1
	rows+=("$(printf "$row" "$k" "${release:-?}" "$agree" "$disagree" "$lacking" "$builtres" "$trace" "${fetch_time}s" "${vm_time}s") $verdict")
done

total=$(secs "$t0" "$(now)")
echo
echo "Check vs kernel on the spin-lock corpus (\"can't load\": programs whose object declares a kfunc the kernel lacks; \"built-obj tests\": $built, passed/run)"
printf "$row %s\n" kernel release agree disagree "can't load" "built-obj tests" minimal fetch run verdict
for r in "${rows[@]}"; do echo "$r"; done
echo "static build ${build_time}s; total wall time ${total}s; consoles in $logs"
exit "$failed"
