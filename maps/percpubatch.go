// SPDX-License-Identifier: Apache-2.0

package maps

import (
	"fmt"
	"unsafe"

	"golang.org/x/sys/unix"
)

// perCPUBatch checks the shape of a per-CPU batch and returns the buffer to hand the
// kernel: values itself when V's size is a multiple of 8, else a scratch buffer laid out
// at the kernel's 8-byte stride (one allocation per call).
func (c *pcpuCore[K, V]) perCPUBatch(op string, nkeys int, values []V) (unsafe.Pointer, []uint64, error) {
	if len(values) < nkeys*c.ncpu {
		return nil, nil, fmt.Errorf("%s in map %q: %d values for %d keys, need %d (keys × %d possible CPUs)", op, c.h.info.Name, len(values), nkeys, nkeys*c.ncpu, c.ncpu)
	}
	if nkeys == 0 {
		return nil, nil, nil
	}
	if c.direct {
		return unsafe.Pointer(&values[0]), nil, nil
	}
	buf := make([]uint64, (uintptr(nkeys*c.ncpu)*c.stride+7)/8)
	return unsafe.Pointer(&buf[0]), buf, nil
}

// batchLookup runs a lookup batch command (with or without delete) into values.
func (c *pcpuCore[K, V]) batchLookup(cmd uintptr, op string, cur *Cursor, keys []K, values []V) (int, error) {
	ptr, buf, err := c.perCPUBatch(op, len(keys), values)
	if err != nil || len(keys) == 0 {
		return 0, err
	}
	n, err := c.h.batchLookup(cmd, op, cur, sliceData(keys), len(keys), ptr, len(keys), 0)
	if buf != nil {
		for i := range n * c.ncpu {
			values[i] = *(*V)(unsafe.Add(ptr, uintptr(i)*c.stride))
		}
	}
	return n, err
}

// BatchLookup copies up to len(keys) entries from the cursor on (see Hash.BatchLookup):
// entry i's value on CPU j lands in values[i*NumCPU()+j], so values needs
// len(keys)×NumCPU() elements (hashes: kernel 5.6+, arrays: 5.13+).
func (p pcpu[K, V]) BatchLookup(c *Cursor, keys []K, values []V) (int, error) {
	return p.c.batchLookup(unix.BPF_MAP_LOOKUP_BATCH, "batch lookup", c, keys, values)
}

// BatchUpdate stores values[i*NumCPU()+j] as key i's value on CPU j, for every key, and
// returns how many keys it stored.
func (p pcpu[K, V]) BatchUpdate(keys []K, values []V) (int, error) {
	const op = "batch update"
	c := p.c
	ptr, buf, err := c.perCPUBatch(op, len(keys), values)
	if err != nil || len(keys) == 0 {
		return 0, err
	}
	if buf != nil {
		for i := range len(keys) * c.ncpu {
			*(*V)(unsafe.Add(ptr, uintptr(i)*c.stride)) = values[i]
		}
	}
	return c.h.batch(unix.BPF_MAP_UPDATE_BATCH, op, nil, nil, sliceData(keys), ptr, len(keys), 0)
}

// pcpuBatchLookupAndDeleter: per-CPU hash maps.
type pcpuBatchLookupAndDeleter[K, V any] struct{ c *pcpuCore[K, V] }

// BatchLookupAndDelete is BatchLookup that also deletes what it returns
// (BPF_MAP_LOOKUP_AND_DELETE_BATCH).
func (p pcpuBatchLookupAndDeleter[K, V]) BatchLookupAndDelete(c *Cursor, keys []K, values []V) (int, error) {
	return p.c.batchLookup(unix.BPF_MAP_LOOKUP_AND_DELETE_BATCH, "batch lookup and delete", c, keys, values)
}
