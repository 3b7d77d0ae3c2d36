// SPDX-License-Identifier: Apache-2.0

package maps

import (
	"reflect"

	"github.com/cilium/ebpf"
)

// Array is a typed accessor for a BPF_MAP_TYPE_ARRAY map with values V, indexed by uint32
// from 0 to max_entries-1. Every index always holds a value (zero until written), so there
// is no Delete. It is also the accessor for global-data maps (.bss, .data, .rodata: one
// entry whose value V must match the section's variables, checked against the
// section's BTF). Safe for concurrent use; it does not own the map.
type Array[V any] struct {
	base
	lockable
	keyed[uint32, V]
	locked[uint32, V]
	batchReader[uint32, V]
	batchWriter[uint32, V]
	lockedBatch[uint32, V]
}

// NewArray checks V against the map and that it is a BPF_MAP_TYPE_ARRAY.
func NewArray[V any](m Map) (*Array[V], error) {
	h, err := newKeyed(m, "maps.NewArray", reflect.TypeFor[uint32](), reflect.TypeFor[V](), ebpf.Array)
	if err != nil {
		return nil, err
	}
	return &Array[V]{base{h}, lockable{h}, keyed[uint32, V]{h}, locked[uint32, V]{h},
		batchReader[uint32, V]{h}, batchWriter[uint32, V]{h}, lockedBatch[uint32, V]{h}}, nil
}

// Len returns the number of entries (max_entries).
func (a *Array[V]) Len() int { return int(a.base.h.info.MaxEntries) }
