package maps

import (
	"fmt"
	"reflect"
	"slices"
	"unsafe"

	"golang.org/x/sys/unix"

	"github.com/bpfkit/bpfkit/internal/sys"
)

// handle is what every accessor holds: the map's descriptor slot, what the map was at
// construction, and where the value's lock is.
type handle struct {
	slot    *sys.Slot
	info    Info
	lockOff int // offset of the bpf_spin_lock in the value, -1 when there is none
	// valueGoSize is the Go value type's size, when checkKV was given one
	valueGoSize uintptr
}

// newHandle reads the map's Info and checks its type against the accessor's.
func newHandle(m Map, accessor string, types ...Type) (handle, error) {
	if m == nil {
		return handle{}, fmt.Errorf("%s: nil map", accessor)
	}
	if v := reflect.ValueOf(m); v.Kind() == reflect.Pointer && v.IsNil() {
		return handle{}, fmt.Errorf("%s: nil %T", accessor, m)
	}
	info, err := m.Info()
	if err != nil {
		return handle{}, fmt.Errorf("%s: reading map info: %w", accessor, err)
	}
	if !slices.Contains(types, info.Type) {
		return handle{}, fmt.Errorf("%w: %s on map %q of type %s", ErrMapType, accessor, info.Name, info.Type)
	}
	return handle{slot: sys.SlotOf(m), info: info, lockOff: sys.LockOffset(info.Value)}, nil
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
		return h.errno(op, e)
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

// Name returns the map's name.
func (h *handle) Name() string { return h.info.Name }

// Info returns what the map was when the accessor was built: type, sizes, flags and BTF.
func (h *handle) Info() Info { return h.info }

// HasLock reports whether the map's value holds a struct bpf_spin_lock (known from BTF),
// that is, whether the *Locked operations can be used.
func (h *handle) HasLock() bool { return h.lockOff >= 0 }

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

func opError(op, name string, e unix.Errno) error {
	switch e {
	case unix.ENOENT:
		return fmt.Errorf("%s in map %q: %w (%w)", op, name, ErrKeyNotExist, e)
	case unix.EEXIST:
		return fmt.Errorf("%s in map %q: %w (%w)", op, name, ErrKeyExist, e)
	}
	return fmt.Errorf("%s in map %q: %w", op, name, e)
}

// String returns the name of a map type as the kernel's enum spells it, without BPF_MAP_TYPE_.
func (t Type) String() string {
	names := [...]string{"UNSPEC", "HASH", "ARRAY", "PROG_ARRAY", "PERF_EVENT_ARRAY", "PERCPU_HASH",
		"PERCPU_ARRAY", "STACK_TRACE", "CGROUP_ARRAY", "LRU_HASH", "LRU_PERCPU_HASH", "LPM_TRIE",
		"ARRAY_OF_MAPS", "HASH_OF_MAPS", "DEVMAP", "SOCKMAP", "CPUMAP", "XSKMAP", "SOCKHASH",
		"CGROUP_STORAGE", "REUSEPORT_SOCKARRAY", "PERCPU_CGROUP_STORAGE", "QUEUE", "STACK",
		"SK_STORAGE", "DEVMAP_HASH", "STRUCT_OPS", "RINGBUF", "INODE_STORAGE", "TASK_STORAGE",
		"BLOOM_FILTER", "USER_RINGBUF", "CGRP_STORAGE", "ARENA"}
	if int(t) < len(names) {
		return names[t]
	}
	return fmt.Sprintf("Type(%d)", uint32(t))
}
