// SPDX-License-Identifier: Apache-2.0

package maps

import (
	"fmt"
	"reflect"
	"slices"
	"unsafe"

	"github.com/cilium/ebpf"
	"golang.org/x/sys/unix"

	"github.com/bpfkit/bpfkit/internal/sys"
)

// handle is what every accessor shares among its operations (ops.go): the map's
// descriptor slot, what the map was at construction, and where the value's lock is.
type handle struct {
	slot    *sys.Slot
	info    Info
	lockOff int // offset of the bpf_spin_lock in the value, -1 when there is none
	// valueGoSize is the Go value type's size, when checkKV was given one
	valueGoSize uintptr
}

// newHandle reads the map's Info and checks its type against the accessor's.
func newHandle(m Map, accessor string, types ...ebpf.MapType) (*handle, error) {
	if m == nil {
		return nil, fmt.Errorf("%s: nil map", accessor)
	}
	if v := reflect.ValueOf(m); v.Kind() == reflect.Pointer && v.IsNil() {
		return nil, fmt.Errorf("%s: nil %T", accessor, m)
	}
	info, err := m.Info()
	if err != nil {
		return nil, fmt.Errorf("%s: reading map info: %w", accessor, err)
	}
	if !slices.Contains(types, info.Type) {
		return nil, fmt.Errorf("%w: %s on map %q of type %s", ErrMapType, accessor, info.Name, info.Type)
	}
	return &handle{slot: sys.SlotOf(m), info: info, lockOff: sys.LockOffset(info.Value)}, nil
}

// newKeyed is newHandle with the key and value types checked (either may be nil).
func newKeyed(m Map, accessor string, key, value reflect.Type, types ...ebpf.MapType) (*handle, error) {
	h, err := newHandle(m, accessor, types...)
	if err != nil {
		return nil, err
	}
	if err := h.checkKV(key, value); err != nil {
		return nil, err
	}
	return h, nil
}

// checkKV checks the Go key and value types against the map (see sys.CheckType).
func (h *handle) checkKV(key, value reflect.Type) error {
	if key != nil {
		if err := sys.CheckType(key, "key", h.info.KeySize, h.info.Key, h.info.Name); err != nil {
			return err
		}
	}
	if value != nil {
		h.valueGoSize = value.Size()
		if err := sys.CheckType(value, "value", h.info.ValueSize, h.info.Value, h.info.Name); err != nil {
			return err
		}
	}
	return nil
}

// acquire returns the map's descriptor for one operation, which must end with
// f.Release(), or an error naming the map: ErrClosed once its owner is closing, the
// owner's error (not loaded) before it has a descriptor.
func (h *handle) acquire(op string) (f *sys.FD, fd int, err error) {
	if f = h.slot.Load(); f != nil {
		if fd, ok := f.Acquire(); ok {
			return f, fd, nil
		}
	}
	return nil, -1, h.noFD(op)
}

func (h *handle) noFD(op string) error {
	return fmt.Errorf("%s in map %q: %w", op, h.info.Name, h.slot.Err())
}

// elem issues one element command (sys.MapElem) on the map, under the lifetime rule.
// This is every accessor's hot path: no allocation unless it fails.
func (h *handle) elem(cmd uintptr, op string, key, value unsafe.Pointer, flags uint64) error {
	f := h.slot.Load()
	if f == nil {
		return h.noFD(op)
	}
	fd, ok := f.Acquire()
	if !ok {
		return h.noFD(op)
	}
	e := sys.MapElem(cmd, fd, key, value, flags)
	f.Release()
	if e != 0 {
		return h.fail(cmd, flags, op, e)
	}
	return nil
}

// elemErrno is elem returning the bare errno (0 on success) for callers that treat some
// errnos as results (ENOENT of an iteration, of a bloom filter lookup).
func (h *handle) elemErrno(cmd uintptr, op string, key, value unsafe.Pointer, flags uint64) (unix.Errno, error) {
	f, fd, err := h.acquire(op)
	if err != nil {
		return 0, err
	}
	e := sys.MapElem(cmd, fd, key, value, flags)
	f.Release()
	return e, nil
}

// lockFlag returns BPF_F_LOCK, or ErrNoLock when the value has no lock.
func (h *handle) lockFlag(op string) (uint64, error) {
	if h.lockOff < 0 {
		return 0, fmt.Errorf("%s in map %q: %w", op, h.info.Name, ErrNoLock)
	}
	return sys.BPF_F_LOCK, nil
}

// errno turns a kernel errno into an error naming the operation and the map; ENOENT and
// EEXIST also match ErrKeyNotExist and ErrKeyExist.
func (h *handle) errno(op string, e unix.Errno) error {
	return opError(op, h.info.Name, e)
}

// fail is errno for command cmd with flags: when the running kernel is older than the
// one cmd needs on this map type, the error wraps ErrNotSupported and names it.
func (h *handle) fail(cmd uintptr, flags uint64, op string, e unix.Errno) error {
	if err := sys.NotSupported(fmt.Sprintf("%s in map %q", op, h.info.Name), minKernel(cmd, h.info.Type, flags), e); err != nil {
		return err
	}
	return h.errno(op, e)
}

// minKernel is the kernel that first supports cmd with flags on maps of type t.
func minKernel(cmd uintptr, t ebpf.MapType, flags uint64) sys.Version {
	v := func(a, b int) sys.Version { return sys.Version{Major: a, Minor: b} }
	min := v(0, 0)
	switch cmd {
	case unix.BPF_MAP_LOOKUP_AND_DELETE_ELEM:
		min = v(5, 14) // hash maps; queues and stacks had it first
		if t == ebpf.Queue || t == ebpf.Stack {
			min = v(4, 20)
		}
	case unix.BPF_MAP_LOOKUP_BATCH, unix.BPF_MAP_UPDATE_BATCH, unix.BPF_MAP_DELETE_BATCH, unix.BPF_MAP_LOOKUP_AND_DELETE_BATCH:
		min = v(5, 6)
		if t == ebpf.LPMTrie || t == ebpf.PerCPUArray {
			min = v(5, 13)
		}
	}
	if flags&sys.BPF_F_LOCK != 0 && min.Less(v(5, 1)) {
		min = v(5, 1)
	}
	return min
}

func opError(op, name string, e unix.Errno) error {
	switch e {
	case unix.ENOENT:
		return fmt.Errorf("%s in map %q: %w (%w)", op, name, ErrKeyNotExist, e)
	case unix.EEXIST:
		return fmt.Errorf("%s in map %q: %w (%w)", op, name, ErrKeyExist, e)
	}
	return fmt.Errorf("%s in map %q: %w", op, name, e)
}
