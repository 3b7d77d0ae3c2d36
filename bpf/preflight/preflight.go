// SPDX-License-Identifier: Apache-2.0

// Package preflight holds the BPF objects of examples/preflight, embedded so that the
// example runs from any directory. The C sources sit next to them; `make bpf` rebuilds
// them.
package preflight

import _ "embed"

// Bad is preflight_bad.bpf.o: a tracepoint (tp/syscalls/sys_enter_write) counting
// write() calls per process in the hash map "stats", whose values hold a
// bpf_spin_lock. Every kernel refuses it (rule P2); bpfkit's check stops it first.
//
//go:embed preflight_bad.bpf.o
var Bad []byte

// Good is preflight_good.bpf.o: the same program as a tp_btf program on sys_enter
// (type TRACING, which may use the lock). It loads on kernels with BTF.
//
//go:embed preflight_good.bpf.o
var Good []byte
