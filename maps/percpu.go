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

// pcpu is the core of the per-CPU accessors. The kernel copies one value per possible CPU,
// each at an 8-byte aligned stride. When V's size is a multiple of 8 a []V has exactly
// that layout and is handed to the kernel as is; otherwise values go through a scratch
// buffer.
type pcpu[K, V any] struct {
	handle
	ncpu    int
	stride  uintptr
	direct  bool
	scratch sync.Pool // *[]uint64 of ncpu*stride bytes, when !direct
}

func newPCPU[K, V any](p *pcpu[K, V], m Map, accessor string, types ...Type) error {
	h, err := newHandle(m, accessor, types...)
	if err != nil {
		return err
	}
	if err := h.checkKV(reflect.TypeFor[K](), reflect.TypeFor[V]()); err != nil {
		return err
	}
	n, err := possibleCPUs()
	if err != nil {
		return fmt.Errorf("%s on map %q: %w", accessor, h.info.Name, err)
	}
	size := reflect.TypeFor[V]().Size()
	p.handle, p.ncpu, p.stride = h, n, perCPUStride(size)
	p.direct = p.stride == size
	words := (p.stride*uintptr(n) + 7) / 8
	p.scratch.New = func() any { b := make([]uint64, words); return &b }
	return nil
}

// NumCPU returns the number of per-CPU values of each entry (the possible CPUs).
func (p *pcpu[K, V]) NumCPU() int { return p.ncpu }

func (p *pcpu[K, V]) lookupInto(cmd uintptr, op string, key *K, values []V) error {
	if len(values) != p.ncpu {
		return fmt.Errorf("%s in map %q: %d values given, the map has %d possible CPUs", op, p.info.Name, len(values), p.ncpu)
	}
	e, err := p.rawLookup(cmd, op, key, values)
	if err != nil {
		return err
	}
	if e != 0 {
		return p.errno(op, e)
	}
	return nil
}

// rawLookup runs a lookup command into values (NumCPU elements) and returns the
// kernel's errno, or an error when the map is closed.
func (p *pcpu[K, V]) rawLookup(cmd uintptr, op string, key *K, values []V) (unix.Errno, error) {
	if p.direct {
		return p.elemErrno(cmd, op, unsafe.Pointer(key), unsafe.Pointer(&values[0]), 0)
	}
	bp := p.scratch.Get().(*[]uint64)
	defer p.scratch.Put(bp)
	buf := *bp
	if e, err := p.elemErrno(cmd, op, unsafe.Pointer(key), unsafe.Pointer(&buf[0]), 0); e != 0 || err != nil {
		return e, err
	}
	base := unsafe.Pointer(&buf[0])
	for i := range values {
		values[i] = *(*V)(unsafe.Add(base, uintptr(i)*p.stride))
	}
	return 0, nil
}

// Lookup returns the values stored under key, one per possible CPU.
func (p *pcpu[K, V]) Lookup(key K) ([]V, error) {
	values := make([]V, p.ncpu)
	if err := p.lookupInto(unix.BPF_MAP_LOOKUP_ELEM, "lookup", &key, values); err != nil {
		return nil, err
	}
	return values, nil
}

// LookupInto copies the values stored under key into values, which must have NumCPU
// elements. It does not allocate when V's size is a multiple of 8.
func (p *pcpu[K, V]) LookupInto(key K, values []V) error {
	return p.lookupInto(unix.BPF_MAP_LOOKUP_ELEM, "lookup", &key, values)
}

// Update stores values (one per possible CPU, NumCPU elements) under key.
func (p *pcpu[K, V]) Update(key K, values []V, flags UpdateFlags) error {
	if len(values) != p.ncpu {
		return fmt.Errorf("update in map %q: %d values given, the map has %d possible CPUs", p.info.Name, len(values), p.ncpu)
	}
	if p.direct {
		return p.elem(unix.BPF_MAP_UPDATE_ELEM, "update", unsafe.Pointer(&key), unsafe.Pointer(&values[0]), uint64(flags))
	}
	bp := p.scratch.Get().(*[]uint64)
	defer p.scratch.Put(bp)
	buf := *bp
	clear(buf)
	base := unsafe.Pointer(&buf[0])
	for i := range values {
		*(*V)(unsafe.Add(base, uintptr(i)*p.stride)) = values[i]
	}
	return p.elem(unix.BPF_MAP_UPDATE_ELEM, "update", unsafe.Pointer(&key), base, uint64(flags))
}

// Iterate returns an Iterator over the keys and per-CPU values (a new slice per entry).
func (p *pcpu[K, V]) Iterate() *Iterator[K, []V] {
	return &Iterator[K, []V]{h: &p.handle, lookup: func(k *K, v *[]V) (unix.Errno, error) {
		*v = make([]V, p.ncpu)
		return p.rawLookup(unix.BPF_MAP_LOOKUP_ELEM, "iterate (lookup)", k, *v)
	}}
}

// All yields every key and its per-CPU values, then the walk's error if it failed
// (ErrClosed once the map's owner is closed); see Hash.All.
func (p *pcpu[K, V]) All() iter.Seq2[Entry[K, []V], error] { return entries(p.Iterate()) }

// PerCPUHash is a typed accessor for a BPF_MAP_TYPE_PERCPU_HASH map: each key holds one V
// per possible CPU, read and written as a []V of NumCPU elements.
type PerCPUHash[K, V any] struct {
	pcpu[K, V]
}

// NewPerCPUHash checks K and V against the map and that it is a BPF_MAP_TYPE_PERCPU_HASH.
func NewPerCPUHash[K, V any](m Map) (*PerCPUHash[K, V], error) {
	p := new(PerCPUHash[K, V])
	if err := newPCPU(&p.pcpu, m, "maps.NewPerCPUHash", TypePerCPUHash); err != nil {
		return nil, err
	}
	return p, nil
}

// Delete removes key from the map, or returns an error wrapping ErrKeyNotExist.
func (p *PerCPUHash[K, V]) Delete(key K) error { return pcpuDelete(&p.handle, key) }

// LookupAndDelete removes key and returns its per-CPU values (kernel 5.14+).
func (p *PerCPUHash[K, V]) LookupAndDelete(key K) ([]V, error) {
	values := make([]V, p.ncpu)
	if err := p.lookupInto(unix.BPF_MAP_LOOKUP_AND_DELETE_ELEM, "lookup and delete", &key, values); err != nil {
		return nil, err
	}
	return values, nil
}

// LRUPerCPUHash is a typed accessor for a BPF_MAP_TYPE_LRU_PERCPU_HASH map: a PerCPUHash
// whose least recently used entries the kernel evicts when it is full.
type LRUPerCPUHash[K, V any] struct {
	pcpu[K, V]
}

// NewLRUPerCPUHash checks K and V against the map and that it is a
// BPF_MAP_TYPE_LRU_PERCPU_HASH.
func NewLRUPerCPUHash[K, V any](m Map) (*LRUPerCPUHash[K, V], error) {
	p := new(LRUPerCPUHash[K, V])
	if err := newPCPU(&p.pcpu, m, "maps.NewLRUPerCPUHash", TypeLRUPerCPUHash); err != nil {
		return nil, err
	}
	return p, nil
}

// Delete removes key from the map, or returns an error wrapping ErrKeyNotExist.
func (p *LRUPerCPUHash[K, V]) Delete(key K) error { return pcpuDelete(&p.handle, key) }

// PerCPUArray is a typed accessor for a BPF_MAP_TYPE_PERCPU_ARRAY map: index i (uint32)
// holds one V per possible CPU.
type PerCPUArray[V any] struct {
	pcpu[uint32, V]
}

// NewPerCPUArray checks V against the map and that it is a BPF_MAP_TYPE_PERCPU_ARRAY.
func NewPerCPUArray[V any](m Map) (*PerCPUArray[V], error) {
	p := new(PerCPUArray[V])
	if err := newPCPU(&p.pcpu, m, "maps.NewPerCPUArray", TypePerCPUArray); err != nil {
		return nil, err
	}
	return p, nil
}

func pcpuDelete[K any](h *handle, key K) error {
	return h.elem(unix.BPF_MAP_DELETE_ELEM, "delete", unsafe.Pointer(&key), nil, 0)
}
