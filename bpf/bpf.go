// SPDX-License-Identifier: Apache-2.0

// Package bpf holds bpfkit's BPF C sources and their compiled objects, committed next
// to them and rebuilt by `make bpf` (clang -O2 -g -target bpf). The objects are embedded
// so that examples and tests run from any directory.
package bpf

import _ "embed"

// Minimal is minimal.bpf.o: libbpf's "minimal" example, a tracepoint on write() that
// prints "BPF triggered from PID <pid>." through bpf_printk when the writer's PID equals
// the global my_pid (in .bss).
//
//go:embed minimal.bpf.o
var Minimal []byte
