package maps

import (
	"errors"
	"reflect"
	"unsafe"

	"golang.org/x/sys/unix"
)

// BloomFilter is a typed accessor for a BPF_MAP_TYPE_BLOOM_FILTER map (kernel 5.16+):
// values are added and tested for membership, never read back or deleted.
type BloomFilter[V any] struct {
	handle
}

// NewBloomFilter checks V against the map and that it is a BPF_MAP_TYPE_BLOOM_FILTER.
func NewBloomFilter[V any](m Map) (*BloomFilter[V], error) {
	h, err := newHandle(m, "maps.NewBloomFilter", TypeBloomFilter)
	if err != nil {
		return nil, err
	}
	if err := h.checkKV(nil, reflect.TypeFor[V]()); err != nil {
		return nil, err
	}
	return &BloomFilter[V]{h}, nil
}

// Add adds value to the filter.
func (b *BloomFilter[V]) Add(value V) error {
	fd, err := b.fd("bloom add")
	if err != nil {
		return err
	}
	if e := elemOp(unix.BPF_MAP_UPDATE_ELEM, fd, nil, unsafe.Pointer(&value), 0); e != 0 {
		return b.errno("bloom add", e)
	}
	return nil
}

// Contains reports whether value may have been added: false is certain, true may be a
// false positive (at the rate the map's hash count and size give).
func (b *BloomFilter[V]) Contains(value V) (bool, error) {
	fd, err := b.fd("bloom lookup")
	if err != nil {
		return false, err
	}
	e := elemOp(unix.BPF_MAP_LOOKUP_ELEM, fd, nil, unsafe.Pointer(&value), 0)
	switch e {
	case 0:
		return true, nil
	case unix.ENOENT:
		return false, nil
	}
	err = b.errno("bloom lookup", e)
	if errors.Is(err, ErrKeyNotExist) {
		return false, nil
	}
	return false, err
}
