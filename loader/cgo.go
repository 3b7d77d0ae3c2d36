package loader

// The loader's C code lives in bpfkit.c (helpers for the libbpf calls libbpfgo does not
// wrap, declared in bpfkit.h). libbpf is found through pkg-config, so a plain `go build`
// links it with no CGO_* variables.

// #cgo pkg-config: libbpf
import "C"
