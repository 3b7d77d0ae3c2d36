// SPDX-License-Identifier: Apache-2.0

package maps

import (
	"fmt"
	"iter"
	"unsafe"

	"golang.org/x/sys/unix"
)

// Iterator walks a map's keys with BPF_MAP_GET_NEXT_KEY and reads each value. Range over
// All (or Keys), then check Err: the iteration stops at the first error.
//
// Under concurrent change (by BPF programs, other goroutines, or the loop's own body):
//   - The key after the current one is fetched before the current entry is yielded, so
//     deleting the yielded key inside the loop is safe and does not restart the walk.
//   - An entry deleted between the key walk and the value read is skipped.
//   - Entries added during the walk may or may not be seen.
//   - If the key the walk stands on is deleted by someone else before the next key is
//     fetched, the kernel's hash maps restart from their first bucket: entries can then be
//     yielded more than once. After 4×max_entries+16 steps the walk gives up with an error,
//     so it cannot loop forever on a map that keeps changing.
//
// An Iterator is not safe for concurrent use; make one per walk.
type Iterator[K, V any] struct {
	h      *handle
	lookup func(key *K, value *V) (unix.Errno, error)
	err    error
}

// Entry is one key and its value, as All yields them.
type Entry[K, V any] struct {
	Key   K
	Value V
}

// All yields every key and value. The value is a copy made for each entry; for per-CPU
// maps it is a new slice per entry.
func (it *Iterator[K, V]) All() iter.Seq2[K, V] {
	return func(yield func(K, V) bool) {
		it.walk(func(k *K) (bool, error) {
			var v V
			e, err := it.lookup(k, &v)
			if err != nil {
				return false, err
			}
			if e != 0 {
				if e == unix.ENOENT {
					return true, nil // deleted since the key walk saw it
				}
				return false, it.h.errno("iterate (lookup)", e)
			}
			return yield(*k, v), nil
		})
	}
}

// Keys yields every key, without reading values.
func (it *Iterator[K, V]) Keys() iter.Seq[K] {
	return func(yield func(K) bool) {
		it.walk(func(k *K) (bool, error) { return yield(*k), nil })
	}
}

// Err returns the error that stopped the last walk, or nil.
func (it *Iterator[K, V]) Err() error { return it.err }

// walk visits every key. Each step is its own operation on the map (the descriptor is
// not held while the loop body runs, so the body may close the map's owner: the walk
// then ends with ErrClosed).
func (it *Iterator[K, V]) walk(visit func(k *K) (bool, error)) {
	it.err = nil
	var cur, next K
	e, err := it.h.elemErrno(unix.BPF_MAP_GET_NEXT_KEY, "iterate", nil, unsafe.Pointer(&cur), 0)
	if err != nil {
		it.err = err
		return
	}
	if e != 0 {
		if e != unix.ENOENT {
			it.err = it.h.errno("iterate", e)
		}
		return
	}
	limit := 4*uint64(it.h.info.MaxEntries) + 16
	for steps := uint64(0); ; steps++ {
		if steps > limit {
			it.err = fmt.Errorf("iterate in map %q: aborted after %d steps: the map kept changing", it.h.info.Name, steps)
			return
		}
		e, err := it.h.elemErrno(unix.BPF_MAP_GET_NEXT_KEY, "iterate", unsafe.Pointer(&cur), unsafe.Pointer(&next), 0)
		if err != nil {
			it.err = err
			return
		}
		if e != 0 && e != unix.ENOENT {
			it.err = it.h.errno("iterate", e)
			return
		}
		more, err := visit(&cur)
		if err != nil {
			it.err = err
			return
		}
		if !more || e == unix.ENOENT {
			return
		}
		cur = next
	}
}

// entries turns an Iterator into the sequence of All.
func entries[K, V any](it *Iterator[K, V]) iter.Seq2[Entry[K, V], error] {
	return func(yield func(Entry[K, V], error) bool) {
		for k, v := range it.All() {
			if !yield(Entry[K, V]{k, v}, nil) {
				return
			}
		}
		if err := it.Err(); err != nil {
			yield(Entry[K, V]{}, err)
		}
	}
}
