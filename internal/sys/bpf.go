// SPDX-License-Identifier: Apache-2.0

package sys

// This file and mapops.go, info.go, link.go, pin.go and testrun.go are bpfkit's only
// bpf_attr layouts (include/uapi/linux/bpf.h, union bpf_attr). Each wrapper puts its attr
// on the stack and converts the Go pointers it is given to integers only inside the
// call, after its own stack check (so a stack copy cannot move them in between), and
// keeps them alive until the syscall returns.

import (
	"unsafe"

	"golang.org/x/sys/unix"
)

// bpf issues one bpf(2) command with unix.Syscall: for commands that may block or take
// long (test runs, pins, batches), which must let the scheduler run other goroutines.
//
// It is nosplit, as are unix.Syscall and what it calls: the caller converted pointers to
// integers in attr after its own stack check, and no stack copy may move them before the
// kernel reads them.
//
//go:nosplit
func bpf(cmd uintptr, attr unsafe.Pointer, size uintptr) (uintptr, unix.Errno) {
	r, _, e := unix.Syscall(unix.SYS_BPF, cmd, uintptr(attr), size)
	return r, e
}

// Flags of the map element commands.
const (
	// BPF_F_LOCK: the kernel holds the value's bpf_spin_lock while it copies.
	BPF_F_LOCK uint64 = 4
)
