package maps

import (
	"fmt"
	"reflect"
	"unsafe"

	"golang.org/x/sys/unix"

	"github.com/bpfkit/bpfkit/internal/sys"
)

// outer is the core of HashOfMaps and ArrayOfMaps. User space writes inner maps by fd and
// reads them back as kernel map IDs (kernel 4.12+).
type outer[K any] struct {
	handle
}

func newOuter[K any](m Map, accessor string, t Type) (outer[K], error) {
	h, err := newHandle(m, accessor, t)
	if err != nil {
		return outer[K]{}, err
	}
	if err := h.checkKV(reflect.TypeFor[K](), reflect.TypeFor[uint32]()); err != nil {
		return outer[K]{}, err
	}
	return outer[K]{h}, nil
}

// Update stores inner under key. inner must be compatible with the map's inner-map
// template (type, sizes, flags), or the kernel refuses with EINVAL.
func (o *outer[K]) Update(key K, inner Map, flags UpdateFlags) error {
	if inner == nil {
		return fmt.Errorf("update in map %q: nil inner map", o.info.Name)
	}
	islot := sys.SlotOf(inner)
	f, err := islot.FD()
	if err != nil {
		return fmt.Errorf("update in map %q: inner map: %w", o.info.Name, err)
	}
	ifd, ok := f.Acquire()
	if !ok {
		return fmt.Errorf("update in map %q: inner map: %w", o.info.Name, islot.Err())
	}
	defer f.Release()
	v := uint32(ifd)
	return o.elem(unix.BPF_MAP_UPDATE_ELEM, "update", unsafe.Pointer(&key), unsafe.Pointer(&v), uint64(flags))
}

// LookupID returns the kernel ID of the inner map stored under key.
func (o *outer[K]) LookupID(key K) (uint32, error) {
	var id uint32
	if err := o.elem(unix.BPF_MAP_LOOKUP_ELEM, "lookup", unsafe.Pointer(&key), unsafe.Pointer(&id), 0); err != nil {
		return 0, err
	}
	return id, nil
}

// Lookup opens the inner map stored under key (by its ID, BPF_MAP_GET_FD_BY_ID) with its
// BTF. The caller owns the result and must Close it; accessors can be built on it.
func (o *outer[K]) Lookup(key K) (*FDMap, error) {
	id, err := o.LookupID(key)
	if err != nil {
		return nil, err
	}
	fd, err := sys.MapFDByID(id)
	if err != nil {
		return nil, fmt.Errorf("lookup in map %q: opening inner map %d: %w", o.info.Name, id, err)
	}
	m, err := fromOwnedFD(fd)
	if err != nil {
		unix.Close(fd)
		return nil, fmt.Errorf("lookup in map %q: inner map %d: %w", o.info.Name, id, err)
	}
	return m, nil
}

// HashOfMaps is an accessor for a BPF_MAP_TYPE_HASH_OF_MAPS map with keys K.
type HashOfMaps[K any] struct {
	outer[K]
}

// NewHashOfMaps checks K against the map and that it is a BPF_MAP_TYPE_HASH_OF_MAPS.
func NewHashOfMaps[K any](m Map) (*HashOfMaps[K], error) {
	o, err := newOuter[K](m, "maps.NewHashOfMaps", TypeHashOfMaps)
	if err != nil {
		return nil, err
	}
	return &HashOfMaps[K]{o}, nil
}

// Delete removes key, or returns an error wrapping ErrKeyNotExist.
func (h *HashOfMaps[K]) Delete(key K) error {
	return h.elem(unix.BPF_MAP_DELETE_ELEM, "delete", unsafe.Pointer(&key), nil, 0)
}

// ArrayOfMaps is an accessor for a BPF_MAP_TYPE_ARRAY_OF_MAPS map, indexed by uint32.
type ArrayOfMaps struct {
	outer[uint32]
}

// NewArrayOfMaps checks that the map is a BPF_MAP_TYPE_ARRAY_OF_MAPS.
func NewArrayOfMaps(m Map) (*ArrayOfMaps, error) {
	o, err := newOuter[uint32](m, "maps.NewArrayOfMaps", TypeArrayOfMaps)
	if err != nil {
		return nil, err
	}
	return &ArrayOfMaps{o}, nil
}

// Delete empties slot i (an array of maps, unlike an array, can hold nothing at an index).
func (a *ArrayOfMaps) Delete(i uint32) error {
	return a.elem(unix.BPF_MAP_DELETE_ELEM, "delete", unsafe.Pointer(&i), nil, 0)
}
