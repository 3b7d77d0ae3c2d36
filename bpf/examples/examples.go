// SPDX-License-Identifier: Apache-2.0

// Package examples holds the compiled BPF objects of bpfkit's examples, embedded so that
// the examples run from any directory. The C sources sit next to them; `make bpf`
// rebuilds them.
package examples

import _ "embed"

// SpinLock is spinlock.bpf.o: an XDP program counting packets and bytes per IP protocol,
// for a destination port set in the .rodata global "port", in the hash map "counters"
// whose values hold a bpf_spin_lock.
//
//go:embed spinlock.bpf.o
var SpinLock []byte
