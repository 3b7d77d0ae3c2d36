package maps

import (
	"fmt"
	"unsafe"

	"golang.org/x/sys/unix"
)

// perCPUBatch checks the shape of a per-CPU batch and returns the buffer to hand the
// kernel: values itself when V's size is a multiple of 8, else a scratch buffer laid out
// at the kernel's 8-byte stride (one allocation per call).
func (p *pcpu[K, V]) perCPUBatch(op string, nkeys int, values []V) (unsafe.Pointer, []uint64, error) {
	if len(values) < nkeys*p.ncpu {
		return nil, nil, fmt.Errorf("%s in map %q: %d values for %d keys, need %d (keys × %d possible CPUs)", op, p.info.Name, len(values), nkeys, nkeys*p.ncpu, p.ncpu)
	}
	if nkeys == 0 {
		return nil, nil, nil
	}
	if p.direct {
		return unsafe.Pointer(&values[0]), nil, nil
	}
	buf := make([]uint64, (uintptr(nkeys*p.ncpu)*p.stride+7)/8)
	return unsafe.Pointer(&buf[0]), buf, nil
}

// BatchLookup copies up to len(keys) entries from the cursor on (see Hash.BatchLookup):
// entry i's value on CPU j lands in values[i*NumCPU()+j], so values needs
// len(keys)×NumCPU() elements.
func (p *pcpu[K, V]) BatchLookup(c *Cursor, keys []K, values []V) (int, error) {
	const op = "batch lookup"
	ptr, buf, err := p.perCPUBatch(op, len(keys), values)
	if err != nil || len(keys) == 0 {
		return 0, err
	}
	n, err := p.batchLookup(unix.BPF_MAP_LOOKUP_BATCH, op, c, sliceData(keys), len(keys), ptr, len(keys), 0)
	if buf != nil {
		for i := range n * p.ncpu {
			values[i] = *(*V)(unsafe.Add(ptr, uintptr(i)*p.stride))
		}
	}
	return n, err
}

// BatchUpdate stores values[i*NumCPU()+j] as key i's value on CPU j, for every key, and
// returns how many keys it stored.
func (p *pcpu[K, V]) BatchUpdate(keys []K, values []V) (int, error) {
	const op = "batch update"
	ptr, buf, err := p.perCPUBatch(op, len(keys), values)
	if err != nil || len(keys) == 0 {
		return 0, err
	}
	if buf != nil {
		for i := range len(keys) * p.ncpu {
			*(*V)(unsafe.Add(ptr, uintptr(i)*p.stride)) = values[i]
		}
	}
	return p.batch(unix.BPF_MAP_UPDATE_BATCH, op, nil, nil, sliceData(keys), ptr, len(keys), 0)
}
