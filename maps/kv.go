package maps

import (
	"reflect"
	"unsafe"

	"golang.org/x/sys/unix"
)

// kv holds the operations shared by the maps addressed by a key: Hash, LRUHash, LPMTrie
// and (through Array) the arrays. Every method is one bpf(2) syscall on Go memory the
// kernel reads or writes in place: K and V were checked at construction to be plain data
// of exactly the map's key and value sizes.
type kv[K, V any] struct {
	handle
}

func newKV[K, V any](m Map, accessor string, types ...Type) (kv[K, V], error) {
	h, err := newHandle(m, accessor, types...)
	if err != nil {
		return kv[K, V]{}, err
	}
	if err := h.checkKV(reflect.TypeFor[K](), reflect.TypeFor[V]()); err != nil {
		return kv[K, V]{}, err
	}
	return kv[K, V]{h}, nil
}

// Lookup returns the value stored under key, or an error wrapping ErrKeyNotExist.
// The value is copied without the lock: use LookupLocked for a consistent snapshot of a
// value that holds a bpf_spin_lock.
func (m *kv[K, V]) Lookup(key K) (V, error) {
	var v V
	err := m.lookup(&key, &v, 0, "lookup")
	return v, err
}

// LookupInto copies the value stored under key into *value, without allocating.
func (m *kv[K, V]) LookupInto(key K, value *V) error {
	return m.lookup(&key, value, 0, "lookup")
}

// LookupLocked is Lookup with BPF_F_LOCK: the kernel holds the value's bpf_spin_lock while
// it copies, so the result is never torn by a BPF program updating it under the lock.
// It returns ErrNoLock, before any syscall, when the value has no lock (kernel 5.1+).
func (m *kv[K, V]) LookupLocked(key K) (V, error) {
	var v V
	err := m.LookupLockedInto(key, &v)
	return v, err
}

// LookupLockedInto is LookupLocked into *value, without allocating.
func (m *kv[K, V]) LookupLockedInto(key K, value *V) error {
	f, err := m.lockFlag("locked lookup")
	if err != nil {
		return err
	}
	return m.lookup(&key, value, f, "locked lookup")
}

func (m *kv[K, V]) lookup(key *K, value *V, flags uint64, op string) error {
	return m.elem(unix.BPF_MAP_LOOKUP_ELEM, op, unsafe.Pointer(key), unsafe.Pointer(value), flags)
}

// Update stores value under key. With UpdateNoExist it fails with ErrKeyExist if the key
// is present, with UpdateExist with ErrKeyNotExist if it is absent. A value's lock word is
// left as it is in the map.
func (m *kv[K, V]) Update(key K, value V, flags UpdateFlags) error {
	return m.update(&key, &value, uint64(flags), "update")
}

// UpdateLocked is Update with BPF_F_LOCK: the kernel holds the value's bpf_spin_lock while
// it writes, so BPF programs never see a half-written value. ErrNoLock, before any
// syscall, when the value has no lock.
func (m *kv[K, V]) UpdateLocked(key K, value V, flags UpdateFlags) error {
	f, err := m.lockFlag("locked update")
	if err != nil {
		return err
	}
	return m.update(&key, &value, uint64(flags)|f, "locked update")
}

func (m *kv[K, V]) update(key *K, value *V, flags uint64, op string) error {
	return m.elem(unix.BPF_MAP_UPDATE_ELEM, op, unsafe.Pointer(key), unsafe.Pointer(value), flags)
}

// Delete removes key from the map, or returns an error wrapping ErrKeyNotExist.
func (m *kv[K, V]) Delete(key K) error {
	return m.elem(unix.BPF_MAP_DELETE_ELEM, "delete", unsafe.Pointer(&key), nil, 0)
}

// LookupAndDelete removes key and returns the value it held, atomically
// (BPF_MAP_LOOKUP_AND_DELETE_ELEM; hash maps since kernel 5.14).
func (m *kv[K, V]) LookupAndDelete(key K) (V, error) {
	var v V
	err := m.elem(unix.BPF_MAP_LOOKUP_AND_DELETE_ELEM, "lookup and delete", unsafe.Pointer(&key), unsafe.Pointer(&v), 0)
	return v, err
}

// LookupAndDeleteLocked is LookupAndDelete with BPF_F_LOCK (ErrNoLock when the value has
// no lock).
func (m *kv[K, V]) LookupAndDeleteLocked(key K) (V, error) {
	var v V
	f, err := m.lockFlag("locked lookup and delete")
	if err != nil {
		return v, err
	}
	err = m.elem(unix.BPF_MAP_LOOKUP_AND_DELETE_ELEM, "locked lookup and delete", unsafe.Pointer(&key), unsafe.Pointer(&v), f)
	return v, err
}
