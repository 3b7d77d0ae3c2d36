// SPDX-License-Identifier: Apache-2.0

// Package spinlock checks a compiled BPF object, before anything reaches the kernel, for
// the uses of bpf_spin_lock that a given kernel version's verifier would refuse.
//
// The rules it applies are tabled in docs/SPINLOCK.md (IDs P1–P6, M1–M8, G1–G4, I1–I9,
// H1–H3, R1–R6): which program types may reference a map whose value holds a lock (P),
// which maps and globals may hold one (M, G), what a program may do while it holds one
// (I), which lock must guard a list or rbtree (H), and how the resilient lock
// (bpf_res_spin_lock) is taken and released (R). A lock may live in a map value, a
// global, an inner map's value or an allocated object; each lookup and each object is
// its own lock. Each rule is keyed by kernel version, so the same object can be judged
// for 6.1 and for 6.18; the rules were checked against 6.1, 6.12 and 6.18 kernels, and
// a version outside 6.1–6.18 gets a warning finding saying so.
//
// The check is pure Go (it builds with CGO_ENABLED=0), needs no privileges and never
// talks to the kernel: it reads the ELF object, its BTF and its line info with
// github.com/cilium/ebpf, and walks every path of every program with an abstract
// interpreter that prunes like the verifier (state equivalence over what is live, and
// precision marks). Where that walk cannot decide whether the kernel would see a path
// (branches correlated through a value), the finding is a warning that says "may", never
// an error. Where it cannot finish (a program past its budget) or cannot read an object,
// it says so in a warning without a rule (Report.Incomplete), never silently.
//
//	rep, err := spinlock.Check(elfBytes, &spinlock.Options{Kernel: spinlock.Version{Major: 6, Minor: 1}})
//	if err != nil { … }          // the object could not be read (errors.Is(err, ErrUnreadable))
//	if err := rep.Err(); err != nil {
//		var se *spinlock.Error
//		errors.As(err, &se)      // se.Findings: the error-severity findings
//	}
package spinlock
