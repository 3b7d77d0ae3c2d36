// SPDX-License-Identifier: Apache-2.0

package maps

import (
	"fmt"
	"reflect"
	"unsafe"

	"github.com/cilium/ebpf"
	"golang.org/x/sys/unix"

	"github.com/bpfkit/bpfkit/internal/sys"
)

// outer: the operations of HashOfMaps and ArrayOfMaps. User space writes inner maps by
// fd and reads them back as kernel map IDs (kernel 4.12+).
type outer[K any] struct{ h *handle }

func newOuter[K any](m Map, accessor string, t ebpf.MapType) (*handle, error) {
	return newKeyed(m, accessor, reflect.TypeFor[K](), reflect.TypeFor[uint32](), t)
}

// Update stores inner under key. inner must be compatible with the map's inner-map
// template (type, sizes, flags), or the kernel refuses with EINVAL.
func (o outer[K]) Update(key K, inner Map, flags UpdateFlags) error {
	if inner == nil {
		return fmt.Errorf("update in map %q: nil inner map", o.h.info.Name)
	}
	islot := sys.SlotOf(inner)
	f, err := islot.FD()
	if err != nil {
		return fmt.Errorf("update in map %q: inner map: %w", o.h.info.Name, err)
	}
	ifd, ok := f.Acquire()
	if !ok {
		return fmt.Errorf("update in map %q: inner map: %w", o.h.info.Name, islot.Err())
	}
	defer f.Release()
	v := uint32(ifd)
	return o.h.elem(unix.BPF_MAP_UPDATE_ELEM, "update", unsafe.Pointer(&key), unsafe.Pointer(&v), uint64(flags))
}

// LookupID returns the kernel ID of the inner map stored under key.
func (o outer[K]) LookupID(key K) (uint32, error) {
	var id uint32
	if err := o.h.elem(unix.BPF_MAP_LOOKUP_ELEM, "lookup", unsafe.Pointer(&key), unsafe.Pointer(&id), 0); err != nil {
		return 0, err
	}
	return id, nil
}

// Lookup opens the inner map stored under key (by its ID, BPF_MAP_GET_FD_BY_ID) with its
// BTF. The caller owns the result and must Close it; accessors can be built on it.
func (o outer[K]) Lookup(key K) (*FDMap, error) {
	id, err := o.LookupID(key)
	if err != nil {
		return nil, err
	}
	fd, err := sys.MapFDByID(id)
	if err != nil {
		return nil, fmt.Errorf("lookup in map %q: opening inner map %d: %w", o.h.info.Name, id, err)
	}
	m, err := fromOwnedFD(fd)
	if err != nil {
		unix.Close(fd)
		return nil, fmt.Errorf("lookup in map %q: inner map %d: %w", o.h.info.Name, id, err)
	}
	return m, nil
}

// HashOfMaps is an accessor for a BPF_MAP_TYPE_HASH_OF_MAPS map with keys K.
type HashOfMaps[K any] struct {
	base
	outer[K]
	deleter[K]
}

// NewHashOfMaps checks K against the map and that it is a BPF_MAP_TYPE_HASH_OF_MAPS.
func NewHashOfMaps[K any](m Map) (*HashOfMaps[K], error) {
	h, err := newOuter[K](m, "maps.NewHashOfMaps", ebpf.HashOfMaps)
	if err != nil {
		return nil, err
	}
	return &HashOfMaps[K]{base{h}, outer[K]{h}, deleter[K]{h}}, nil
}

// ArrayOfMaps is an accessor for a BPF_MAP_TYPE_ARRAY_OF_MAPS map, indexed by uint32.
// Delete empties a slot: an array of maps, unlike an array, can hold nothing at an index.
type ArrayOfMaps struct {
	base
	outer[uint32]
	deleter[uint32]
}

// NewArrayOfMaps checks that the map is a BPF_MAP_TYPE_ARRAY_OF_MAPS.
func NewArrayOfMaps(m Map) (*ArrayOfMaps, error) {
	h, err := newOuter[uint32](m, "maps.NewArrayOfMaps", ebpf.ArrayOfMaps)
	if err != nil {
		return nil, err
	}
	return &ArrayOfMaps{base{h}, outer[uint32]{h}, deleter[uint32]{h}}, nil
}
