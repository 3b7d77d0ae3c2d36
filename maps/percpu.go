// SPDX-License-Identifier: Apache-2.0

package maps

import (
	"fmt"
	"iter"
	"os"
	"reflect"
	"strconv"
	"strings"
	"sync"
	"unsafe"

	"github.com/cilium/ebpf"
	"golang.org/x/sys/unix"
)

// PossibleCPUs returns the number of possible CPUs (/sys/devices/system/cpu/possible):
// the length of every per-CPU value slice.
func PossibleCPUs() (int, error) { return possibleCPUs() }

var possibleCPUs = sync.OnceValues(func() (int, error) {
	b, err := os.ReadFile("/sys/devices/system/cpu/possible")
	if err != nil {
		return 0, fmt.Errorf("reading possible CPUs: %w", err)
	}
	return parseCPUList(strings.TrimSpace(string(b)))
})

// parseCPUList counts the CPUs in a kernel CPU list such as "0-3,8,10-11".
func parseCPUList(s string) (int, error) {
	n := 0
	for part := range strings.SplitSeq(s, ",") {
		lo, hi, isRange := strings.Cut(part, "-")
		a, err := strconv.Atoi(lo)
		if err != nil {
			return 0, fmt.Errorf("parsing CPU list %q: %w", s, err)
		}
		b := a
		if isRange {
			if b, err = strconv.Atoi(hi); err != nil {
				return 0, fmt.Errorf("parsing CPU list %q: %w", s, err)
			}
		}
		if b < a {
			return 0, fmt.Errorf("parsing CPU list %q: range %s goes down", s, part)
		}
		n += b - a + 1
	}
	if n == 0 {
		return 0, fmt.Errorf("parsing CPU list %q: no CPUs", s)
	}
	return n, nil
}

// perCPUStride is the kernel's per-CPU element size: the value size rounded up to 8.
func perCPUStride(size uintptr) uintptr { return (size + 7) &^ 7 }

// pcpuCore is what the per-CPU operations share. The kernel copies one value per
// possible CPU, each at an 8-byte aligned stride. When V's size is a multiple of 8 a []V
// has exactly that layout and is handed to the kernel as is; otherwise values go through
// a scratch buffer.
type pcpuCore[K, V any] struct {
	h       *handle
	ncpu    int
	stride  uintptr
	direct  bool
	scratch sync.Pool // *[]uint64 of ncpu*stride bytes, when !direct
}

func newPCPU[K, V any](m Map, accessor string, t ebpf.MapType) (*pcpuCore[K, V], error) {
	h, err := newKeyed(m, accessor, reflect.TypeFor[K](), reflect.TypeFor[V](), t)
	if err != nil {
		return nil, err
	}
	n, err := possibleCPUs()
	if err != nil {
		return nil, fmt.Errorf("%s on map %q: %w", accessor, h.info.Name, err)
	}
	size := reflect.TypeFor[V]().Size()
	c := &pcpuCore[K, V]{h: h, ncpu: n, stride: perCPUStride(size)}
	c.direct = c.stride == size
	words := (c.stride*uintptr(n) + 7) / 8
	c.scratch.New = func() any { b := make([]uint64, words); return &b }
	return c, nil
}

func (c *pcpuCore[K, V]) lookupInto(cmd uintptr, op string, key *K, values []V) error {
	if len(values) != c.ncpu {
		return fmt.Errorf("%s in map %q: %d values given, the map has %d possible CPUs", op, c.h.info.Name, len(values), c.ncpu)
	}
	e, err := c.rawLookup(cmd, op, key, values)
	if err != nil {
		return err
	}
	if e != 0 {
		return c.h.fail(cmd, 0, op, e)
	}
	return nil
}

// rawLookup runs a lookup command into values (NumCPU elements) and returns the
// kernel's errno, or an error when the map is closed.
func (c *pcpuCore[K, V]) rawLookup(cmd uintptr, op string, key *K, values []V) (unix.Errno, error) {
	if c.direct {
		return c.h.elemErrno(cmd, op, unsafe.Pointer(key), unsafe.Pointer(&values[0]), 0)
	}
	bp := c.scratch.Get().(*[]uint64)
	defer c.scratch.Put(bp)
	buf := *bp
	if e, err := c.h.elemErrno(cmd, op, unsafe.Pointer(key), unsafe.Pointer(&buf[0]), 0); e != 0 || err != nil {
		return e, err
	}
	base := unsafe.Pointer(&buf[0])
	for i := range values {
		values[i] = *(*V)(unsafe.Add(base, uintptr(i)*c.stride))
	}
	return 0, nil
}

// pcpu: the operations of every per-CPU map.
type pcpu[K, V any] struct{ c *pcpuCore[K, V] }

// NumCPU returns the number of per-CPU values of each entry (the possible CPUs).
func (p pcpu[K, V]) NumCPU() int { return p.c.ncpu }

// Lookup returns the values stored under key, one per possible CPU.
func (p pcpu[K, V]) Lookup(key K) ([]V, error) {
	values := make([]V, p.c.ncpu)
	if err := p.c.lookupInto(unix.BPF_MAP_LOOKUP_ELEM, "lookup", &key, values); err != nil {
		return nil, err
	}
	return values, nil
}

// LookupInto copies the values stored under key into values, which must have NumCPU
// elements. It does not allocate when V's size is a multiple of 8.
func (p pcpu[K, V]) LookupInto(key K, values []V) error {
	return p.c.lookupInto(unix.BPF_MAP_LOOKUP_ELEM, "lookup", &key, values)
}

// Update stores values (one per possible CPU, NumCPU elements) under key.
func (p pcpu[K, V]) Update(key K, values []V, flags UpdateFlags) error {
	c := p.c
	if len(values) != c.ncpu {
		return fmt.Errorf("update in map %q: %d values given, the map has %d possible CPUs", c.h.info.Name, len(values), c.ncpu)
	}
	if c.direct {
		return c.h.elem(unix.BPF_MAP_UPDATE_ELEM, "update", unsafe.Pointer(&key), unsafe.Pointer(&values[0]), uint64(flags))
	}
	bp := c.scratch.Get().(*[]uint64)
	defer c.scratch.Put(bp)
	buf := *bp
	clear(buf)
	base := unsafe.Pointer(&buf[0])
	for i := range values {
		*(*V)(unsafe.Add(base, uintptr(i)*c.stride)) = values[i]
	}
	return c.h.elem(unix.BPF_MAP_UPDATE_ELEM, "update", unsafe.Pointer(&key), base, uint64(flags))
}

// Iterate returns an Iterator over the keys and per-CPU values (a new slice per entry).
func (p pcpu[K, V]) Iterate() *Iterator[K, []V] {
	c := p.c
	return &Iterator[K, []V]{h: c.h, lookup: func(k *K, v *[]V) (unix.Errno, error) {
		*v = make([]V, c.ncpu)
		return c.rawLookup(unix.BPF_MAP_LOOKUP_ELEM, "iterate (lookup)", k, *v)
	}}
}

// All yields every key and its per-CPU values, then the walk's error if it failed
// (ErrClosed once the map's owner is closed); see Hash.All.
func (p pcpu[K, V]) All() iter.Seq2[Entry[K, []V], error] { return entries(p.Iterate()) }

// pcpuLookupAndDeleter: per-CPU hash maps (kernel 5.14+).
type pcpuLookupAndDeleter[K, V any] struct{ c *pcpuCore[K, V] }

// LookupAndDelete removes key and returns its per-CPU values (kernel 5.14+).
func (p pcpuLookupAndDeleter[K, V]) LookupAndDelete(key K) ([]V, error) {
	values := make([]V, p.c.ncpu)
	if err := p.c.lookupInto(unix.BPF_MAP_LOOKUP_AND_DELETE_ELEM, "lookup and delete", &key, values); err != nil {
		return nil, err
	}
	return values, nil
}

// PerCPUHash is a typed accessor for a BPF_MAP_TYPE_PERCPU_HASH map: each key holds one V
// per possible CPU, read and written as a []V of NumCPU elements.
type PerCPUHash[K, V any] struct {
	base
	pcpu[K, V]
	deleter[K]
	pcpuLookupAndDeleter[K, V]
	batchDeleter[K]
	pcpuBatchLookupAndDeleter[K, V]
}

// NewPerCPUHash checks K and V against the map and that it is a BPF_MAP_TYPE_PERCPU_HASH.
func NewPerCPUHash[K, V any](m Map) (*PerCPUHash[K, V], error) {
	c, err := newPCPU[K, V](m, "maps.NewPerCPUHash", ebpf.PerCPUHash)
	if err != nil {
		return nil, err
	}
	return &PerCPUHash[K, V]{base{c.h}, pcpu[K, V]{c}, deleter[K]{c.h}, pcpuLookupAndDeleter[K, V]{c},
		batchDeleter[K]{c.h}, pcpuBatchLookupAndDeleter[K, V]{c}}, nil
}

// LRUPerCPUHash is a typed accessor for a BPF_MAP_TYPE_LRU_PERCPU_HASH map: a PerCPUHash
// whose least recently used entries the kernel evicts when it is full.
type LRUPerCPUHash[K, V any] struct {
	base
	pcpu[K, V]
	deleter[K]
	pcpuLookupAndDeleter[K, V]
	batchDeleter[K]
	pcpuBatchLookupAndDeleter[K, V]
}

// NewLRUPerCPUHash checks K and V against the map and that it is a
// BPF_MAP_TYPE_LRU_PERCPU_HASH.
func NewLRUPerCPUHash[K, V any](m Map) (*LRUPerCPUHash[K, V], error) {
	c, err := newPCPU[K, V](m, "maps.NewLRUPerCPUHash", ebpf.LRUCPUHash)
	if err != nil {
		return nil, err
	}
	return &LRUPerCPUHash[K, V]{base{c.h}, pcpu[K, V]{c}, deleter[K]{c.h}, pcpuLookupAndDeleter[K, V]{c},
		batchDeleter[K]{c.h}, pcpuBatchLookupAndDeleter[K, V]{c}}, nil
}

// PerCPUArray is a typed accessor for a BPF_MAP_TYPE_PERCPU_ARRAY map: index i (uint32)
// holds one V per possible CPU. Every index always exists: there is no Delete.
type PerCPUArray[V any] struct {
	base
	pcpu[uint32, V]
}

// NewPerCPUArray checks V against the map and that it is a BPF_MAP_TYPE_PERCPU_ARRAY.
func NewPerCPUArray[V any](m Map) (*PerCPUArray[V], error) {
	c, err := newPCPU[uint32, V](m, "maps.NewPerCPUArray", ebpf.PerCPUArray)
	if err != nil {
		return nil, err
	}
	return &PerCPUArray[V]{base{c.h}, pcpu[uint32, V]{c}}, nil
}
