// SPDX-License-Identifier: Apache-2.0

package maps_test

import (
	"errors"
	"maps"
	"slices"
	"testing"

	bmaps "github.com/bpfkit/bpfkit/maps"
	"golang.org/x/sys/unix"
)

// plain is struct plain of maps.bpf.c.
type plain struct {
	A    uint64
	B, C uint32
}

func TestHashOperations(t *testing.T) {
	o := testObject(t)
	h := must[*bmaps.Hash[uint32, plain]](t)(bmaps.NewHash[uint32, plain](testMap(t, o, "h_plain")))
	if h.Name() != "h_plain" || h.HasLock() {
		t.Fatalf("Name %q HasLock %v", h.Name(), h.HasLock())
	}

	_, err := h.Lookup(1)
	wantErr(t, err, bmaps.ErrKeyNotExist, unix.ENOENT)
	want := plain{A: 1 << 40, B: 2, C: 3}
	if err := h.Update(1, want, bmaps.UpdateAny); err != nil {
		t.Fatal(err)
	}
	if got := must[plain](t)(h.Lookup(1)); got != want {
		t.Fatalf("Lookup = %+v, want %+v", got, want)
	}
	var into plain
	if err := h.LookupInto(1, &into); err != nil || into != want {
		t.Fatalf("LookupInto = %+v, %v", into, err)
	}
	wantErr(t, h.Update(1, want, bmaps.UpdateNoExist), bmaps.ErrKeyExist, unix.EEXIST)
	wantErr(t, h.Update(2, want, bmaps.UpdateExist), bmaps.ErrKeyNotExist, unix.ENOENT)
	want.B = 20
	if err := h.Update(1, want, bmaps.UpdateExist); err != nil {
		t.Fatal(err)
	}
	if err := h.Update(2, plain{A: 2}, bmaps.UpdateNoExist); err != nil {
		t.Fatal(err)
	}
	if got := must[plain](t)(h.LookupAndDelete(1)); got != want {
		t.Fatalf("LookupAndDelete = %+v, want %+v", got, want)
	}
	_, err = h.LookupAndDelete(1)
	wantErr(t, err, bmaps.ErrKeyNotExist)
	if err := h.Delete(2); err != nil {
		t.Fatal(err)
	}
	wantErr(t, h.Delete(2), bmaps.ErrKeyNotExist, unix.ENOENT)
	if err := h.Update(3, plain{}, 99); err == nil || !errors.Is(err, unix.EINVAL) {
		t.Fatalf("Update with bad flags: %v, want EINVAL", err)
	}

	// Error messages name the operation and the map.
	err = h.Delete(2)
	if msg := err.Error(); msg != `delete in map "h_plain": key does not exist (no such file or directory)` {
		t.Fatalf("error text %q", msg)
	}

	// The *Locked operations fail before any syscall when the value has no lock: a closed
	// fake map would have said so otherwise.
	fake := fakeMap(must[bmaps.Info](t)(testMap(t, o, "h_plain").Info()))
	fh := must[*bmaps.Hash[uint32, plain]](t)(bmaps.NewHash[uint32, plain](fake))
	_, err = fh.LookupLocked(1)
	wantErr(t, err, bmaps.ErrNoLock)
	wantErr(t, fh.UpdateLocked(1, plain{}, bmaps.UpdateAny), bmaps.ErrNoLock)
	_, err = fh.LookupAndDeleteLocked(1)
	wantErr(t, err, bmaps.ErrNoLock)
	_, err = fh.BatchLookupLocked(new(bmaps.Cursor), make([]uint32, 4), make([]plain, 4))
	wantErr(t, err, bmaps.ErrNoLock)
	_, err = fh.BatchUpdateLocked([]uint32{1}, []plain{{}})
	wantErr(t, err, bmaps.ErrNoLock)
	if fake.FDCalls != 0 {
		t.Fatalf("ErrNoLock paths asked for the fd %d times", fake.FDCalls)
	}
	// And the real map rejects them the same way.
	_, err = h.LookupLocked(1)
	wantErr(t, err, bmaps.ErrNoLock)
}

func fill(t *testing.T, h *bmaps.Hash[uint32, plain], n int) map[uint32]plain {
	t.Helper()
	want := make(map[uint32]plain, n)
	for i := range uint32(n) {
		v := plain{A: uint64(i) * 3, B: i, C: ^i}
		if err := h.Update(i, v, bmaps.UpdateNoExist); err != nil {
			t.Fatal(err)
		}
		want[i] = v
	}
	return want
}

func TestHashIterate(t *testing.T) {
	o := testObject(t)
	h := must[*bmaps.Hash[uint32, plain]](t)(bmaps.NewHash[uint32, plain](testMap(t, o, "h_plain")))

	it := h.Iterate()
	for range it.All() {
		t.Fatal("empty map yielded an entry")
	}
	if it.Err() != nil {
		t.Fatal(it.Err())
	}

	want := fill(t, h, 300)
	got := map[uint32]plain{}
	it = h.Iterate()
	for k, v := range it.All() {
		if _, dup := got[k]; dup {
			t.Fatalf("key %d yielded twice", k)
		}
		got[k] = v
	}
	if it.Err() != nil || !maps.Equal(got, want) {
		t.Fatalf("iteration: %d entries (err %v), want %d", len(got), it.Err(), len(want))
	}
	keys := slices.Sorted(h.Iterate().Keys())
	if len(keys) != 300 || keys[0] != 0 || keys[299] != 299 {
		t.Fatalf("Keys: %d keys", len(keys))
	}

	// Early break.
	n := 0
	for _, err := range h.All() {
		if err != nil {
			t.Fatal(err)
		}
		n++
		if n == 5 {
			break
		}
	}
	if n != 5 {
		t.Fatal("break did not stop the walk")
	}

	// Deleting the yielded key inside the loop: each entry is seen exactly once and the
	// map ends empty (the next key is fetched before the body runs).
	seen := map[uint32]int{}
	it = h.Iterate()
	for k := range it.All() {
		seen[k]++
		if err := h.Delete(k); err != nil {
			t.Fatal(err)
		}
	}
	if it.Err() != nil || len(seen) != 300 {
		t.Fatalf("delete while iterating: saw %d keys, err %v", len(seen), it.Err())
	}
	for k, c := range seen {
		if c != 1 {
			t.Fatalf("key %d seen %d times", k, c)
		}
	}
	if _, err := h.Lookup(0); !errors.Is(err, bmaps.ErrKeyNotExist) {
		t.Fatal("map not empty after deleting every yielded key")
	}

	// Deleting entries ahead of the walk: deleted entries are skipped, never yielded
	// with a stale value.
	fill(t, h, 100)
	it = h.Iterate()
	got = map[uint32]plain{}
	first := true
	for k, v := range it.All() {
		if first {
			for i := range uint32(100) {
				if i != k {
					h.Delete(i) // may race with the key walk: that is the point
				}
			}
			first = false
		}
		got[k] = v
	}
	if it.Err() != nil || len(got) > 2 {
		t.Fatalf("after deleting all but the current key: %d entries yielded (err %v)", len(got), it.Err())
	}
}

func TestHashBatch(t *testing.T) {
	o := testObject(t)
	h := must[*bmaps.Hash[uint32, plain]](t)(bmaps.NewHash[uint32, plain](testMap(t, o, "h_plain")))

	const n = 1000
	keys := make([]uint32, n)
	vals := make([]plain, n)
	for i := range keys {
		keys[i] = uint32(i)
		vals[i] = plain{A: uint64(i), B: uint32(i) * 2}
	}
	if _, err := h.BatchUpdate(keys, vals[:1]); err == nil || err.Error() != `batch update in map "h_plain": 1000 keys and 1 values` {
		t.Fatalf("BatchUpdate with fewer values than keys: %v", err)
	}
	c, err := h.BatchUpdate(keys, vals)
	if err != nil || c != n {
		t.Fatalf("BatchUpdate = %d, %v", c, err)
	}

	got := map[uint32]plain{}
	var cur bmaps.Cursor
	kb, vb := make([]uint32, 64), make([]plain, 64)
	calls := 0
	for !cur.Done() {
		m, err := h.BatchLookup(&cur, kb, vb)
		if err != nil {
			t.Fatal(err)
		}
		for i := range m {
			got[kb[i]] = vb[i]
		}
		if calls++; calls > n {
			t.Fatal("batch walk does not end")
		}
	}
	if len(got) != n {
		t.Fatalf("BatchLookup walked %d entries, want %d", len(got), n)
	}
	for i := range n {
		if got[uint32(i)] != vals[i] {
			t.Fatalf("entry %d = %+v, want %+v", i, got[uint32(i)], vals[i])
		}
	}
	if m, err := h.BatchLookup(&cur, kb, vb); m != 0 || err != nil {
		t.Fatalf("BatchLookup on a done cursor = %d, %v", m, err)
	}
	_, err = h.BatchLookup(nil, kb, vb)
	if err == nil || err.Error() != `batch lookup in map "h_plain": nil cursor` {
		t.Fatalf("BatchLookup with a nil cursor: %v", err)
	}
	_, err = h.BatchLookup(new(bmaps.Cursor), kb, vb[:1])
	if err == nil || err.Error() != `batch lookup in map "h_plain": 64 keys but room for 1 values` {
		t.Fatalf("BatchLookup with fewer values than keys: %v", err)
	}
	// A batch of one entry: 1000 keys in 1024 buckets collide somewhere, and a bucket
	// holding two entries does not fit.
	var one bmaps.Cursor
	err = nil
	for walked := 0; err == nil && !one.Done(); walked++ {
		if walked > 2000 {
			t.Fatal("the batch walk does not end")
		}
		_, err = h.BatchLookup(&one, kb[:1], vb[:1])
	}
	if !errors.Is(err, unix.ENOSPC) {
		t.Fatalf("walking with a 1-entry batch: %v, want ENOSPC", err)
	}

	c, err = h.BatchDelete(keys[:500])
	if err != nil || c != 500 {
		t.Fatalf("BatchDelete = %d, %v", c, err)
	}
	_, err = h.BatchDelete(keys[:1])
	wantErr(t, err, bmaps.ErrKeyNotExist)

	left := 0
	cur.Reset()
	for walked := 0; !cur.Done(); walked++ {
		if walked > 1000 {
			t.Fatal("the batch walk does not end")
		}
		m, err := h.BatchLookupAndDelete(&cur, kb, vb)
		if err != nil {
			t.Fatal(err)
		}
		for i := range m {
			if kb[i] < 500 || vb[i] != vals[kb[i]] {
				t.Fatalf("lookup-and-delete returned %d=%+v", kb[i], vb[i])
			}
		}
		left += m
	}
	if left != 500 {
		t.Fatalf("BatchLookupAndDelete returned %d entries, want 500", left)
	}
	for e, err := range h.All() {
		t.Fatalf("map not empty after BatchLookupAndDelete: %+v, %v", e, err)
	}
}

func TestLRUHash(t *testing.T) {
	o := testObject(t)
	l := must[*bmaps.LRUHash[uint32, uint64]](t)(bmaps.NewLRUHash[uint32, uint64](testMap(t, o, "lru")))
	for i := range uint32(200) { // 64 entries: the oldest are evicted
		if err := l.Update(i, uint64(i)*7, bmaps.UpdateAny); err != nil {
			t.Fatal(err)
		}
	}
	if v, err := l.Lookup(199); err != nil || v != 199*7 {
		t.Fatalf("Lookup(199) = %d, %v", v, err)
	}
	present := 0
	for i := range uint32(200) {
		if _, err := l.Lookup(i); err == nil {
			present++
		} else if !errors.Is(err, bmaps.ErrKeyNotExist) {
			t.Fatal(err)
		}
	}
	n := 0
	for _, err := range l.All() {
		if err != nil {
			t.Fatal(err)
		}
		n++
	}
	if present == 0 || present > 64 || n != present {
		t.Fatalf("LRU map of 64 holds %d of 200 keys, iteration saw %d", present, n)
	}
	// (an LRUHash has no *Locked operations at all: TestMethodSets)
	if _, err := bmaps.NewHash[uint32, uint64](testMap(t, o, "lru")); !errors.Is(err, bmaps.ErrMapType) {
		t.Fatalf("NewHash on an LRU hash: %v", err)
	}
}
