// SPDX-License-Identifier: Apache-2.0

package bench

import (
	"testing"
	"unsafe"

	"golang.org/x/sys/unix"
)

// BenchmarkRawSyscallFloor is the floor: the lookup syscall with nothing around it.
func BenchmarkRawSyscallFloor(b *testing.B) {
	e := setup(b)
	type attr struct {
		fd    uint32
		_     uint32
		key   uint64
		value uint64
		flags uint64
	}
	key := uint32(1)
	var v val16
	for b.Loop() {
		a := attr{fd: uint32(e.smallFD), key: uint64(uintptr(unsafe.Pointer(&key))), value: uint64(uintptr(unsafe.Pointer(&v)))}
		if _, _, e := unix.RawSyscall(unix.SYS_BPF, unix.BPF_MAP_LOOKUP_ELEM, uintptr(unsafe.Pointer(&a)), unsafe.Sizeof(a)); e != 0 {
			b.Fatal(e)
		}
	}
}
