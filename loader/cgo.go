// SPDX-License-Identifier: Apache-2.0

package loader

// The loader calls libbpf directly; its C code lives in bpfkit.c (declared in bpfkit.h):
// helpers for libbpf's option structs (LIBBPF_OPTS), errno after calls that return NULL,
// and the print callback. libbpf is found through pkg-config, so a plain `go build`
// links it with no CGO_* variables.

// #cgo pkg-config: libbpf
import "C"
