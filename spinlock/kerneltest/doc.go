// Package kerneltest holds the differential test of the spin-lock check against the real
// kernel. It has no API: its test loads every program of the corpus in
// bpf/testdata/spinlock alone into the running kernel (loader.CheckOff, so the kernel is
// the only judge), runs spinlock.Check on the same object bytes, and asserts, program by
// program, that both reach the same verdict for the same rule, and that the kernel still
// says what bpf/testdata/spinlock/manifest.json recorded.
//
// The test needs root (or CAP_BPF, CAP_PERFMON and CAP_NET_ADMIN); it skips without, and
// fails instead of skipping when BPFKIT_REQUIRE_PRIVILEGED=1.
//
//	sudo go test -v -run TestDifferential ./spinlock/kerneltest
package kerneltest
