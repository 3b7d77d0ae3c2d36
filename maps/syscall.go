package maps

// The bpf(2) commands used by this package. This is the only file that builds bpf_attr
// structs: each wrapper puts its attr on the stack, converts the Go pointers it is given
// to integers only after its own stack check (so a stack copy cannot move them in between),
// and issues unix.RawSyscall, which is nosplit down to the SYSCALL instruction. Map
// operations are short and never block, so RawSyscall's missing scheduler hand-off costs
// nothing and saves ~70 ns per operation (docs/shared MACHINE.md).

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

// infoAttr is the bpf_attr of BPF_OBJ_GET_INFO_BY_FD.
type infoAttr struct {
	fd      uint32
	infoLen uint32
	info    uint64
}

// idAttr is the bpf_attr of BPF_MAP_GET_FD_BY_ID.
type idAttr struct {
	id        uint32
	nextID    uint32
	openFlags uint32
}

// mapInfo is struct bpf_map_info (kernel 5.16+ layout; older kernels fill a prefix).
type mapInfo struct {
	typ                   uint32
	id                    uint32
	keySize               uint32
	valueSize             uint32
	maxEntries            uint32
	mapFlags              uint32
	name                  [16]byte
	ifindex               uint32
	btfVmlinuxValueTypeID uint32
	netnsDev              uint64
	netnsIno              uint64
	btfID                 uint32
	btfKeyTypeID          uint32
	btfValueTypeID        uint32
	btfVmlinuxID          uint32
	mapExtra              uint64
}

// elemOp issues one of BPF_MAP_LOOKUP_ELEM, UPDATE_ELEM, DELETE_ELEM, GET_NEXT_KEY or
// LOOKUP_AND_DELETE_ELEM. key and value may be nil.
func elemOp(cmd uintptr, fd int, key, value unsafe.Pointer, flags uint64) unix.Errno {
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

// batchOp issues one of the BPF_MAP_*_BATCH commands and returns the kernel's count, which
// is meaningful even when an error is returned.
func batchOp(cmd uintptr, fd int, inBatch, outBatch, keys, values unsafe.Pointer, count uint32, elemFlags uint64) (uint32, unix.Errno) {
	attr := batchAttr{
		inBatch:   uint64(uintptr(inBatch)),
		outBatch:  uint64(uintptr(outBatch)),
		keys:      uint64(uintptr(keys)),
		values:    uint64(uintptr(values)),
		count:     count,
		mapFD:     uint32(fd),
		elemFlags: elemFlags,
	}
	_, _, e := unix.RawSyscall(unix.SYS_BPF, cmd, uintptr(unsafe.Pointer(&attr)), unsafe.Sizeof(attr))
	runtime.KeepAlive(inBatch)
	runtime.KeepAlive(outBatch)
	runtime.KeepAlive(keys)
	runtime.KeepAlive(values)
	return attr.count, e
}

// objMapInfo reads struct bpf_map_info of a map fd (BPF_OBJ_GET_INFO_BY_FD).
func objMapInfo(fd int) (mapInfo, error) {
	var info mapInfo
	attr := infoAttr{fd: uint32(fd), infoLen: uint32(unsafe.Sizeof(info)), info: uint64(uintptr(unsafe.Pointer(&info)))}
	_, _, e := unix.Syscall(unix.SYS_BPF, unix.BPF_OBJ_GET_INFO_BY_FD, uintptr(unsafe.Pointer(&attr)), unsafe.Sizeof(attr))
	runtime.KeepAlive(&info)
	if e != 0 {
		return mapInfo{}, e
	}
	return info, nil
}

// mapFDByID opens a map by its kernel ID (BPF_MAP_GET_FD_BY_ID); the caller owns the fd.
func mapFDByID(id uint32) (int, error) {
	attr := idAttr{id: id}
	r, _, e := unix.Syscall(unix.SYS_BPF, unix.BPF_MAP_GET_FD_BY_ID, uintptr(unsafe.Pointer(&attr)), unsafe.Sizeof(attr))
	if e != 0 {
		return -1, e
	}
	return int(r), nil
}
