// SPDX-License-Identifier: Apache-2.0

// Package tricky is the generated skeleton of bpf/testdata/gen/tricky.bpf.o, whose types
// (bpf/testdata/gen/tricky.h) are the layouts a Go generator gets wrong most easily:
// nested structs, unions, bitfields, arrays of structs, padding, a packed struct, enums,
// a typedef'd anonymous struct, a flexible array, a bpf_spin_lock and names that collide
// in Go. tricky.skel.go is the golden file of package gen's tests, and this package's
// tests check it against the kernel: C writes known values, Go reads them back.
package tricky

//go:generate go run github.com/bpfkit/bpfkit/cmd/bpfkit gen -package tricky -type with_flex -output tricky.skel.go ../../../bpf/testdata/gen/tricky.bpf.o
