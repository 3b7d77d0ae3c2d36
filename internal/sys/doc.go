// SPDX-License-Identifier: Apache-2.0

// Package sys is the floor every other bpfkit package stands on: what loader, maps and
// (later) spinlock share about the kernel.
//
//   - bpf(2): the union bpf_attr layouts bpfkit uses and one wrapper per command
//     (bpf.go, mapops.go, info.go, link.go, pin.go, testrun.go). Nothing else in bpfkit
//     builds a bpf_attr.
//   - FD: a kernel object's descriptor with its lifetime rule: the number is never
//     closed while an operation on it is in flight, and no operation starts once it is
//     closing (fd.go). Handles reach it through a Slot.
//   - Section names: which ELF sections libbpf turns into global-data maps, and what a
//     program section says about its program (sections.go).
//   - BTF: the check that a Go type can stand for a BTF type (layout.go) and the finder
//     of the special fields (bpf_spin_lock …) of a map value (fields.go).
//   - Errors shared by the public packages (ErrClosed, ErrNotSupported) and the running
//     kernel's version, which ErrNotSupported errors name (errors.go, kernel.go).
//
// Program, map and attach types are cilium/ebpf's (ebpf.ProgramType, ebpf.MapType,
// ebpf.AttachType): one set of enums, one String, for every package.
//
// The package is pure Go: maps and spinlock build with CGO_ENABLED=0.
package sys
