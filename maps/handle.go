package maps

import (
	"fmt"
	"reflect"
	"slices"

	"golang.org/x/sys/unix"
)

// handle is what every accessor holds: the map, what it was at construction, and where
// the value's lock is.
type handle struct {
	m       Map
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
	info, err := m.Info()
	if err != nil {
		return handle{}, fmt.Errorf("%s: reading map info: %w", accessor, err)
	}
	if !slices.Contains(types, info.Type) {
		return handle{}, fmt.Errorf("%w: %s on map %q of type %s", ErrMapType, accessor, info.Name, info.Type)
	}
	h := handle{m: m, info: info, lockOff: lockOffset(info.Value)}
	return h, nil
}

// checkKV checks the Go key and value types against the map (see checkType).
func (h *handle) checkKV(key, value reflect.Type) error {
	if key != nil {
		if err := checkType(key, "key", h.info.KeySize, h.info.Key, h.info.Name); err != nil {
			return err
		}
	}
	if value != nil {
		h.valueGoSize = value.Size()
		if err := checkType(value, "value", h.info.ValueSize, h.info.Value, h.info.Name); err != nil {
			return err
		}
	}
	return nil
}

// fd returns the map's fd, or an error naming the map (ErrClosed once its owner closed).
func (h *handle) fd(op string) (int, error) {
	fd, err := h.m.FD()
	if err != nil {
		return -1, fmt.Errorf("%s in map %q: %w", op, h.info.Name, err)
	}
	return fd, nil
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
	return flagLock, nil
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
