// SPDX-License-Identifier: Apache-2.0

//go:build !cgo

package loader

// Package loader calls libbpf through cgo. Built without cgo (CGO_ENABLED=0, or a
// cross-compilation with no C toolchain), the constant below fails to compile on
// purpose, so that the first error says what is missing instead of "undefined: Object".
// The pure-Go files that need the cgo ones carry a `//go:build cgo` line, so that their
// errors do not come first. (Packages maps and spinlock, and loader/tracepipe, build
// without cgo.)
const _ = "package github.com/bpfkit/bpfkit/loader needs cgo and libbpf: build with CGO_ENABLED=1, a C compiler and libbpf-dev (libbpf >= 1.4) installed" + 0
