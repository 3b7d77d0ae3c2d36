package maps

import "iter"

// Array is a typed accessor for a BPF_MAP_TYPE_ARRAY map with values V, indexed by uint32
// from 0 to max_entries-1. Every index always holds a value (zero until written), so there
// is no Delete. It is also the accessor for global-data maps (.bss, .data, .rodata: one
// entry whose value V must match the section's variables, checked against the
// section's BTF). Safe for concurrent use; it does not own the map.
type Array[V any] struct {
	c kv[uint32, V]
}

// NewArray checks V against the map and that it is a BPF_MAP_TYPE_ARRAY.
func NewArray[V any](m Map) (*Array[V], error) {
	c, err := newKV[uint32, V](m, "maps.NewArray", TypeArray)
	if err != nil {
		return nil, err
	}
	return &Array[V]{c}, nil
}

// Name returns the map's name.
func (a *Array[V]) Name() string { return a.c.info.Name }

// Info returns the map's type, sizes, flags and BTF as read at construction.
func (a *Array[V]) Info() Info { return a.c.info }

// HasLock reports whether the value holds a struct bpf_spin_lock.
func (a *Array[V]) HasLock() bool { return a.c.HasLock() }

// Len returns the number of entries (max_entries).
func (a *Array[V]) Len() int { return int(a.c.info.MaxEntries) }

// Lookup returns the value at index i (ErrKeyNotExist when i is out of range).
func (a *Array[V]) Lookup(i uint32) (V, error) { return a.c.Lookup(i) }

// LookupInto copies the value at index i into *value, without allocating.
func (a *Array[V]) LookupInto(i uint32, value *V) error { return a.c.LookupInto(i, value) }

// LookupLocked is Lookup with BPF_F_LOCK (ErrNoLock when the value has no lock).
func (a *Array[V]) LookupLocked(i uint32) (V, error) { return a.c.LookupLocked(i) }

// LookupLockedInto is LookupLocked into *value, without allocating.
func (a *Array[V]) LookupLockedInto(i uint32, value *V) error {
	return a.c.LookupLockedInto(i, value)
}

// Update stores value at index i. UpdateNoExist always fails on an array (every index
// exists); UpdateAny and UpdateExist replace.
func (a *Array[V]) Update(i uint32, value V, flags UpdateFlags) error {
	return a.c.Update(i, value, flags)
}

// UpdateLocked is Update with BPF_F_LOCK (ErrNoLock when the value has no lock).
func (a *Array[V]) UpdateLocked(i uint32, value V, flags UpdateFlags) error {
	return a.c.UpdateLocked(i, value, flags)
}

// Iterate returns an Iterator over the indices and values.
func (a *Array[V]) Iterate() *Iterator[uint32, V] { return a.c.Iterate() }

// All yields every index and value, then the walk's error if it failed (see Hash.All).
func (a *Array[V]) All() iter.Seq2[Entry[uint32, V], error] { return a.c.All() }

// BatchLookup copies up to len(keys) entries from the cursor on (see Hash.BatchLookup).
func (a *Array[V]) BatchLookup(c *Cursor, keys []uint32, values []V) (int, error) {
	return a.c.BatchLookup(c, keys, values)
}

// BatchLookupLocked is BatchLookup with BPF_F_LOCK.
func (a *Array[V]) BatchLookupLocked(c *Cursor, keys []uint32, values []V) (int, error) {
	return a.c.BatchLookupLocked(c, keys, values)
}

// BatchUpdate stores values[i] at keys[i].
func (a *Array[V]) BatchUpdate(keys []uint32, values []V) (int, error) {
	return a.c.BatchUpdate(keys, values)
}

// BatchUpdateLocked is BatchUpdate with BPF_F_LOCK.
func (a *Array[V]) BatchUpdateLocked(keys []uint32, values []V) (int, error) {
	return a.c.BatchUpdateLocked(keys, values)
}
