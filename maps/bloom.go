// SPDX-License-Identifier: Apache-2.0

package maps

import (
	"reflect"
	"unsafe"

	"github.com/cilium/ebpf"
	"golang.org/x/sys/unix"
)

// BloomFilter is a typed accessor for a BPF_MAP_TYPE_BLOOM_FILTER map (kernel 5.16+):
// values are added and tested for membership, never read back or deleted.
type BloomFilter[V any] struct {
	base
}

// NewBloomFilter checks V against the map and that it is a BPF_MAP_TYPE_BLOOM_FILTER.
func NewBloomFilter[V any](m Map) (*BloomFilter[V], error) {
	h, err := newKeyed(m, "maps.NewBloomFilter", nil, reflect.TypeFor[V](), ebpf.BloomFilter)
	if err != nil {
		return nil, err
	}
	return &BloomFilter[V]{base{h}}, nil
}

// Add adds value to the filter.
func (b *BloomFilter[V]) Add(value V) error {
	return b.h.elem(unix.BPF_MAP_UPDATE_ELEM, "bloom add", nil, unsafe.Pointer(&value), 0)
}

// Contains reports whether value may have been added: false is certain, true may be a
// false positive (at the rate the map's hash count and size give).
func (b *BloomFilter[V]) Contains(value V) (bool, error) {
	e, err := b.h.elemErrno(unix.BPF_MAP_LOOKUP_ELEM, "bloom lookup", nil, unsafe.Pointer(&value), 0)
	switch {
	case err != nil:
		return false, err
	case e == 0:
		return true, nil
	case e == unix.ENOENT:
		return false, nil
	}
	return false, b.h.errno("bloom lookup", e)
}
