// SPDX-License-Identifier: Apache-2.0

package sys

import (
	"runtime"
	"unsafe"

	"golang.org/x/sys/unix"
)

// elemAttr is the bpf_attr of BPF_MAP_*_ELEM and BPF_MAP_GET_NEXT_KEY.
type elemAttr struct {
	mapFD uint32
	_     uint32
	key   uint64
	value uint64 // or next_key
	flags uint64
}

// batchAttr is the bpf_attr of the BPF_MAP_*_BATCH commands.
type batchAttr struct {
	inBatch   uint64
	outBatch  uint64
	keys      uint64
	values    uint64
	count     uint32
	mapFD     uint32
	elemFlags uint64
	flags     uint64
}

// MapElem issues one of BPF_MAP_LOOKUP_ELEM, UPDATE_ELEM, DELETE_ELEM, GET_NEXT_KEY or
// LOOKUP_AND_DELETE_ELEM on map fd (unix.BPF_MAP_* command numbers); key and value may
// be nil.
//
// It uses unix.RawSyscall, which is nosplit down to the SYSCALL instruction: map element
// operations are short and never block, so the scheduler hand-off of unix.Syscall would
// only cost (~70 ns per operation on these machines).
func MapElem(cmd uintptr, fd int, key, value unsafe.Pointer, flags uint64) unix.Errno {
	attr := elemAttr{
		mapFD: uint32(fd),
		key:   uint64(uintptr(key)),
		value: uint64(uintptr(value)),
		flags: flags,
	}
	_, _, e := unix.RawSyscall(unix.SYS_BPF, cmd, uintptr(unsafe.Pointer(&attr)), unsafe.Sizeof(attr))
	runtime.KeepAlive(key)
	runtime.KeepAlive(value)
	return e
}

// MapBatch issues one of the BPF_MAP_*_BATCH commands and returns the kernel's count,
// which is meaningful even when an error is returned (see BatchCount).
func MapBatch(cmd uintptr, fd int, inBatch, outBatch, keys, values unsafe.Pointer, count uint32, elemFlags uint64) (uint32, unix.Errno) {
	attr := batchAttr{
		inBatch:   uint64(uintptr(inBatch)),
		outBatch:  uint64(uintptr(outBatch)),
		keys:      uint64(uintptr(keys)),
		values:    uint64(uintptr(values)),
		count:     count,
		mapFD:     uint32(fd),
		elemFlags: elemFlags,
	}
	_, e := bpf(cmd, unsafe.Pointer(&attr), unsafe.Sizeof(attr))
	runtime.KeepAlive(inBatch)
	runtime.KeepAlive(outBatch)
	runtime.KeepAlive(keys)
	runtime.KeepAlive(values)
	return attr.count, e
}

// BatchCount is the kernel's count of processed elements. The kernel writes it back once
// it has started on the elements; when it rejects the attr up front (EINVAL: bad flags,
// unsupported map type) it leaves the input count there, which means none.
func BatchCount(n uint32, e unix.Errno) uint32 {
	if e == unix.EINVAL || e == unix.EOPNOTSUPP || e == ENOTSUPP || e == unix.EPERM {
		return 0
	}
	return n
}

// idAttr is the bpf_attr of BPF_*_GET_FD_BY_ID.
type idAttr struct {
	id        uint32
	nextID    uint32
	openFlags uint32
}

// MapFDByID opens a map by its kernel ID (BPF_MAP_GET_FD_BY_ID); the caller owns the fd.
func MapFDByID(id uint32) (int, error) {
	attr := idAttr{id: id}
	r, e := bpf(unix.BPF_MAP_GET_FD_BY_ID, unsafe.Pointer(&attr), unsafe.Sizeof(attr))
	if e != 0 {
		return -1, e
	}
	return int(r), nil
}
