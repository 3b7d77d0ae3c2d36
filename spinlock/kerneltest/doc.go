// SPDX-License-Identifier: Apache-2.0

// Package kerneltest holds the differential test of the spin-lock check against the real
// kernel. It has no API: its test loads every program of the corpus in
// bpf/testdata/spinlock alone into the running kernel (preflight off, so the kernel is
// the only judge), runs spinlock.Check on the same object bytes, and asserts, program by
// program, that both reach the same verdict for the same rule, and that the kernel still
// says what bpf/testdata/spinlock/manifest.json recorded.
//
// On a kernel other than the manifest's (make test-kernels runs it in Debian's 6.1 and
// 6.12 under qemu), the manifest's verdicts and rules are those of another kernel: the
// test then asks only that the check, keyed to the running kernel, reach the kernel's
// verdict and name one of the rules whose words (or older words, olderWords) the kernel
// printed. A program whose object declares a kfunc that kernel lacks cannot load at all
// (libbpf resolves the object's externs first); it is skipped with the kfunc's name and
// counted apart in the summary, never as an agreement.
//
// The test needs root (or CAP_BPF, CAP_PERFMON and CAP_NET_ADMIN); it skips without, and
// fails instead of skipping when BPFKIT_REQUIRE_PRIVILEGED=1.
//
//	sudo go test -v -run TestDifferential ./spinlock/kerneltest
package kerneltest
