// SPDX-License-Identifier: Apache-2.0

package maps

import (
	"iter"
	"unsafe"

	"golang.org/x/sys/unix"
)

// The operations of the accessors, each written once. An accessor embeds those its
// kernel map type supports, and no others, so that its method set promises only what
// the kernel does (an LRUHash has no *Locked operations, an LPMTrie no LookupAndDelete).
// Each holds the accessor's shared *handle. Every method is one bpf(2) syscall on Go
// memory the kernel reads or writes in place: K and V were checked at construction to be
// plain data of exactly the map's key and value sizes.

// base: every accessor and reader.
type base struct{ h *handle }

// Name returns the map's name.
func (b base) Name() string { return b.h.info.Name }

// Info returns what the map was when the accessor was built: type, sizes, flags and BTF.
func (b base) Info() Info { return b.h.info }

// lockable: the map types whose values may hold a bpf_spin_lock (hash, array).
type lockable struct{ h *handle }

// HasLock reports whether the kernel finds one usable struct bpf_spin_lock in the map's
// value (from its BTF), that is, whether the *Locked operations can be used.
func (l lockable) HasLock() bool { return l.h.lockOff >= 0 }

// keyed: lookup, update and iteration of the maps addressed by a key.
type keyed[K, V any] struct{ h *handle }

// Lookup returns the value stored under key, or an error wrapping ErrKeyNotExist.
// The value is copied without the lock: use LookupLocked, where the map has it, for a
// consistent snapshot of a value that holds a bpf_spin_lock.
func (m keyed[K, V]) Lookup(key K) (V, error) {
	var v V
	err := m.h.elem(unix.BPF_MAP_LOOKUP_ELEM, "lookup", unsafe.Pointer(&key), unsafe.Pointer(&v), 0)
	return v, err
}

// LookupInto copies the value stored under key into *value, without allocating.
func (m keyed[K, V]) LookupInto(key K, value *V) error {
	return m.h.elem(unix.BPF_MAP_LOOKUP_ELEM, "lookup", unsafe.Pointer(&key), unsafe.Pointer(value), 0)
}

// Update stores value under key. With UpdateNoExist it fails with ErrKeyExist if the key
// is present, with UpdateExist with ErrKeyNotExist if it is absent (an array's indices
// always exist: UpdateNoExist always fails there). A value's lock word is left as it is
// in the map.
func (m keyed[K, V]) Update(key K, value V, flags UpdateFlags) error {
	return m.h.elem(unix.BPF_MAP_UPDATE_ELEM, "update", unsafe.Pointer(&key), unsafe.Pointer(&value), uint64(flags))
}

// Iterate returns an Iterator over the map's entries (see Iterator for its behaviour
// under concurrent change).
func (m keyed[K, V]) Iterate() *Iterator[K, V] {
	h := m.h
	return &Iterator[K, V]{h: h, lookup: func(k *K, v *V) (unix.Errno, error) {
		return h.elemErrno(unix.BPF_MAP_LOOKUP_ELEM, "iterate (lookup)", unsafe.Pointer(k), unsafe.Pointer(v), 0)
	}}
}

// All yields every entry, then, if the walk failed (ErrClosed once the map's owner is
// closed, or another error of Iterator), that error with a zero Entry, and stops:
//
//	for e, err := range m.All() {
//		if err != nil {
//			return err
//		}
//		use(e.Key, e.Value)
//	}
func (m keyed[K, V]) All() iter.Seq2[Entry[K, V], error] { return entries(m.Iterate()) }

// deleter: the maps whose entries can be deleted (not arrays).
type deleter[K any] struct{ h *handle }

// Delete removes key from the map, or returns an error wrapping ErrKeyNotExist.
func (d deleter[K]) Delete(key K) error {
	return d.h.elem(unix.BPF_MAP_DELETE_ELEM, "delete", unsafe.Pointer(&key), nil, 0)
}

// lookupAndDeleter: hash maps (kernel 5.14+).
type lookupAndDeleter[K, V any] struct{ h *handle }

// LookupAndDelete removes key and returns the value it held, atomically
// (BPF_MAP_LOOKUP_AND_DELETE_ELEM; hash maps since kernel 5.14).
func (m lookupAndDeleter[K, V]) LookupAndDelete(key K) (V, error) {
	var v V
	err := m.h.elem(unix.BPF_MAP_LOOKUP_AND_DELETE_ELEM, "lookup and delete", unsafe.Pointer(&key), unsafe.Pointer(&v), 0)
	return v, err
}

// locked: the BPF_F_LOCK operations of the maps whose values may hold a bpf_spin_lock.
type locked[K, V any] struct{ h *handle }

// LookupLocked is Lookup with BPF_F_LOCK: the kernel holds the value's bpf_spin_lock while
// it copies, so the result is never torn by a BPF program updating it under the lock.
// It returns ErrNoLock, before any syscall, when the value has no lock (kernel 5.1+).
func (m locked[K, V]) LookupLocked(key K) (V, error) {
	var v V
	err := m.LookupLockedInto(key, &v)
	return v, err
}

// LookupLockedInto is LookupLocked into *value, without allocating.
func (m locked[K, V]) LookupLockedInto(key K, value *V) error {
	f, err := m.h.lockFlag("locked lookup")
	if err != nil {
		return err
	}
	return m.h.elem(unix.BPF_MAP_LOOKUP_ELEM, "locked lookup", unsafe.Pointer(&key), unsafe.Pointer(value), f)
}

// UpdateLocked is Update with BPF_F_LOCK: the kernel holds the value's bpf_spin_lock while
// it writes, so BPF programs never see a half-written value. ErrNoLock, before any
// syscall, when the value has no lock.
func (m locked[K, V]) UpdateLocked(key K, value V, flags UpdateFlags) error {
	f, err := m.h.lockFlag("locked update")
	if err != nil {
		return err
	}
	return m.h.elem(unix.BPF_MAP_UPDATE_ELEM, "locked update", unsafe.Pointer(&key), unsafe.Pointer(&value), uint64(flags)|f)
}

// lockedLookupAndDeleter: hash maps whose values may hold a lock.
type lockedLookupAndDeleter[K, V any] struct{ h *handle }

// LookupAndDeleteLocked is LookupAndDelete with BPF_F_LOCK (ErrNoLock when the value has
// no lock).
func (m lockedLookupAndDeleter[K, V]) LookupAndDeleteLocked(key K) (V, error) {
	var v V
	f, err := m.h.lockFlag("locked lookup and delete")
	if err != nil {
		return v, err
	}
	err = m.h.elem(unix.BPF_MAP_LOOKUP_AND_DELETE_ELEM, "locked lookup and delete", unsafe.Pointer(&key), unsafe.Pointer(&v), f)
	return v, err
}
