// SPDX-License-Identifier: Apache-2.0

package maps

import (
	"fmt"
	"unsafe"

	"github.com/cilium/ebpf"
	"golang.org/x/sys/unix"

	"github.com/bpfkit/bpfkit/internal/sys"
)

// Cursor is the position of a batch walk (the kernel's in_batch/out_batch token). The zero
// value starts at the beginning of the map; Done reports when the walk has seen every
// entry. A Cursor belongs to one map and one walk; do not copy it once used.
type Cursor struct {
	in, out []byte
	started bool
	done    bool
}

// Done reports whether the walk has reached the end of the map.
func (c *Cursor) Done() bool { return c.done }

// Reset makes the cursor start from the beginning of the map again.
func (c *Cursor) Reset() { c.started, c.done = false, false }

// token sizes: hash maps use a u32 bucket index, the generic (array) walk uses a key.
func (c *Cursor) prepare(keySize uint32) {
	n := int(max(keySize, 8))
	if len(c.in) < n {
		c.in, c.out = make([]byte, n), make([]byte, n)
	}
}

// batchLookup runs BPF_MAP_LOOKUP_BATCH or LOOKUP_AND_DELETE_BATCH into keys and values
// (value stride vsize bytes, per-CPU aware through values' element layout).
func (h *handle) batchLookup(cmd uintptr, op string, c *Cursor, keys unsafe.Pointer, nkeys int, values unsafe.Pointer, nvalues int, elemFlags uint64) (int, error) {
	if c == nil {
		return 0, fmt.Errorf("%s in map %q: nil cursor", op, h.info.Name)
	}
	if err := h.batchable(op); err != nil {
		return 0, err
	}
	if c.done {
		return 0, nil
	}
	if nvalues < nkeys {
		return 0, fmt.Errorf("%s in map %q: %d keys but room for %d values", op, h.info.Name, nkeys, nvalues)
	}
	if nkeys == 0 {
		return 0, nil
	}
	c.prepare(h.info.KeySize)
	var in unsafe.Pointer
	if c.started {
		in = unsafe.Pointer(&c.in[0])
	}
	f, fd, err := h.acquire(op)
	if err != nil {
		return 0, err
	}
	n, e := sys.MapBatch(cmd, fd, in, unsafe.Pointer(&c.out[0]), keys, values, uint32(nkeys), elemFlags)
	f.Release()
	n = sys.BatchCount(n, e)
	switch e {
	case 0:
	case unix.ENOENT:
		c.done = true
		return int(n), nil
	default:
		return int(n), h.fail(cmd, elemFlags, op, e)
	}
	c.started = true
	copy(c.in, c.out)
	return int(n), nil
}

// batchReader: BPF_MAP_LOOKUP_BATCH (hash and array maps since kernel 5.6, LPM tries
// since 5.13).
type batchReader[K, V any] struct{ h *handle }

// BatchLookup copies up to len(keys) entries, from the cursor on, into keys and values
// (BPF_MAP_LOOKUP_BATCH), and returns how many it copied. When the walk reaches the end
// of the map c.Done() becomes true; the last call may still return entries. A hash map
// copies whole buckets: if one bucket holds more entries than len(keys) the call fails
// with ENOSPC; use a larger batch. Values are copied without the lock.
func (m batchReader[K, V]) BatchLookup(c *Cursor, keys []K, values []V) (int, error) {
	return m.h.batchLookup(unix.BPF_MAP_LOOKUP_BATCH, "batch lookup", c, sliceData(keys), len(keys), sliceData(values), len(values), 0)
}

// batchWriter: BPF_MAP_UPDATE_BATCH.
type batchWriter[K, V any] struct{ h *handle }

// BatchUpdate stores values[i] under keys[i], creating or replacing each entry
// (BPF_MAP_UPDATE_BATCH; the kernel takes no UpdateNoExist/UpdateExist for batches), and
// returns how many it stored; on error the first n were stored.
func (m batchWriter[K, V]) BatchUpdate(keys []K, values []V) (int, error) {
	return batchUpdate(m.h, "batch update", keys, values, 0)
}

// batchDeleter: BPF_MAP_DELETE_BATCH (not arrays).
type batchDeleter[K any] struct{ h *handle }

// BatchDelete deletes keys (BPF_MAP_DELETE_BATCH) and returns how many it deleted; a
// missing key stops it with an error wrapping ErrKeyNotExist.
func (m batchDeleter[K]) BatchDelete(keys []K) (int, error) {
	if len(keys) == 0 {
		return 0, nil
	}
	return m.h.batch(unix.BPF_MAP_DELETE_BATCH, "batch delete", nil, nil, sliceData(keys), nil, len(keys), 0)
}

// batchLookupAndDeleter: BPF_MAP_LOOKUP_AND_DELETE_BATCH (hash maps only).
type batchLookupAndDeleter[K, V any] struct{ h *handle }

// BatchLookupAndDelete is BatchLookup that also deletes what it returns
// (BPF_MAP_LOOKUP_AND_DELETE_BATCH; hash maps only).
func (m batchLookupAndDeleter[K, V]) BatchLookupAndDelete(c *Cursor, keys []K, values []V) (int, error) {
	return m.h.batchLookup(unix.BPF_MAP_LOOKUP_AND_DELETE_BATCH, "batch lookup and delete", c, sliceData(keys), len(keys), sliceData(values), len(values), 0)
}

// lockedBatch: the batch operations with BPF_F_LOCK, on maps whose values may hold a lock.
type lockedBatch[K, V any] struct{ h *handle }

// BatchLookupLocked is BatchLookup with BPF_F_LOCK on every element (ErrNoLock, before any
// syscall, when the value has no lock).
func (m lockedBatch[K, V]) BatchLookupLocked(c *Cursor, keys []K, values []V) (int, error) {
	f, err := m.h.lockFlag("locked batch lookup")
	if err != nil {
		return 0, err
	}
	return m.h.batchLookup(unix.BPF_MAP_LOOKUP_BATCH, "locked batch lookup", c, sliceData(keys), len(keys), sliceData(values), len(values), f)
}

// BatchUpdateLocked is BatchUpdate with BPF_F_LOCK (ErrNoLock when the value has no lock).
func (m lockedBatch[K, V]) BatchUpdateLocked(keys []K, values []V) (int, error) {
	f, err := m.h.lockFlag("locked batch update")
	if err != nil {
		return 0, err
	}
	return batchUpdate(m.h, "locked batch update", keys, values, f)
}

func batchUpdate[K, V any](h *handle, op string, keys []K, values []V, elemFlags uint64) (int, error) {
	if len(values) != len(keys) {
		return 0, fmt.Errorf("%s in map %q: %d keys and %d values", op, h.info.Name, len(keys), len(values))
	}
	if len(keys) == 0 {
		return 0, nil
	}
	if err := h.batchable(op); err != nil {
		return 0, err
	}
	return h.batch(unix.BPF_MAP_UPDATE_BATCH, op, nil, nil, sliceData(keys), sliceData(values), len(keys), elemFlags)
}

// batch issues one batch command without a cursor (update, delete) and returns how many
// elements the kernel processed.
func (h *handle) batch(cmd uintptr, op string, in, out, keys, values unsafe.Pointer, n int, elemFlags uint64) (int, error) {
	f, fd, err := h.acquire(op)
	if err != nil {
		return 0, err
	}
	count, e := sys.MapBatch(cmd, fd, in, out, keys, values, uint32(n), elemFlags)
	f.Release()
	count = sys.BatchCount(count, e)
	if e != 0 {
		return int(count), h.fail(cmd, elemFlags, op, e)
	}
	return int(count), nil
}

// batchable refuses batches of values whose Go size is not the map's value size (a
// global-data section with trailing padding, see datasecSlack): the kernel packs batch
// values at value_size strides.
func (h *handle) batchable(op string) error {
	if h.valueGoSize != 0 && h.valueGoSize != uintptr(h.info.ValueSize) && !isPerCPU(h.info.Type) {
		return fmt.Errorf("%s in map %q: the Go value type is %d bytes, the map's values %d: batches need equal sizes", op, h.info.Name, h.valueGoSize, h.info.ValueSize)
	}
	return nil
}

func isPerCPU(t ebpf.MapType) bool {
	return t == ebpf.PerCPUHash || t == ebpf.PerCPUArray || t == ebpf.LRUCPUHash
}

// sliceData returns a pointer to s's first element, or nil for an empty slice.
func sliceData[T any](s []T) unsafe.Pointer {
	if len(s) == 0 {
		return nil
	}
	return unsafe.Pointer(&s[0])
}
