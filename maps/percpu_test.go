// SPDX-License-Identifier: Apache-2.0

package maps_test

import (
	"testing"

	"github.com/bpfkit/bpfkit/maps"
)

// odd is struct odd of maps.bpf.c: 6 bytes (8 with Go's padding), stored by the kernel at
// an 8-byte stride per CPU.
type odd struct {
	X uint32
	Y uint16
}

func TestPerCPUHash(t *testing.T) {
	o := testObject(t)
	ncpu := must[int](t)(maps.PossibleCPUs())
	// The kernel's value size is 8 (sizeof struct odd in C, padded), as is Go's.
	h := must[*maps.PerCPUHash[uint32, odd]](t)(maps.NewPerCPUHash[uint32, odd](testMap(t, o, "pc_hash")))
	if h.NumCPU() != ncpu {
		t.Fatalf("NumCPU %d, possible %d", h.NumCPU(), ncpu)
	}
	vals := make([]odd, ncpu)
	for i := range vals {
		vals[i] = odd{X: uint32(i + 1), Y: uint16(100 + i)}
	}
	if err := h.Update(1, vals, maps.UpdateNoExist); err != nil {
		t.Fatal(err)
	}
	got := must[[]odd](t)(h.Lookup(1))
	for i := range vals {
		if got[i] != vals[i] {
			t.Fatalf("CPU %d: %+v, want %+v", i, got[i], vals[i])
		}
	}
	into := make([]odd, ncpu)
	if err := h.LookupInto(1, into); err != nil || into[ncpu-1] != vals[ncpu-1] {
		t.Fatalf("LookupInto = %+v, %v", into, err)
	}
	if err := h.LookupInto(1, make([]odd, ncpu+1)); err == nil {
		t.Fatal("LookupInto with too many values accepted")
	}
	if err := h.Update(2, vals[:1], maps.UpdateAny); err == nil && ncpu > 1 {
		t.Fatal("Update with too few values accepted")
	}
	wantErr(t, h.Update(1, vals, maps.UpdateNoExist), maps.ErrKeyExist)
	n := 0
	for e, err := range h.All() {
		if err != nil {
			t.Fatal(err)
		}
		if e.Key != 1 || len(e.Value) != ncpu || e.Value[0] != vals[0] {
			t.Fatalf("iteration: %d=%+v", e.Key, e.Value)
		}
		n++
	}
	if n != 1 {
		t.Fatalf("iteration saw %d keys", n)
	}
	if got := must[[]odd](t)(h.LookupAndDelete(1)); got[0] != vals[0] {
		t.Fatalf("LookupAndDelete = %+v", got)
	}
	wantErr(t, h.Delete(1), maps.ErrKeyNotExist)
}

// TestPerCPURounding uses a 4-byte value (lru_pc holds __u32): the kernel stores each CPU's
// copy at an 8-byte stride, so a []uint32 cannot be handed over as is.
func TestPerCPURounding(t *testing.T) {
	o := testObject(t)
	ncpu := must[int](t)(maps.PossibleCPUs())
	h := must[*maps.LRUPerCPUHash[uint32, uint32]](t)(maps.NewLRUPerCPUHash[uint32, uint32](testMap(t, o, "lru_pc")))
	vals := make([]uint32, ncpu)
	for i := range vals {
		vals[i] = 0xA0000000 + uint32(i)
	}
	if err := h.Update(7, vals, maps.UpdateAny); err != nil {
		t.Fatal(err)
	}
	got := must[[]uint32](t)(h.Lookup(7))
	for i := range vals {
		if got[i] != vals[i] {
			t.Fatalf("CPU %d: %#x, want %#x (per-CPU stride wrong?)", i, got[i], vals[i])
		}
	}
	if err := h.Delete(7); err != nil {
		t.Fatal(err)
	}
	wantErr(t, h.Delete(7), maps.ErrKeyNotExist)
}

func TestPerCPUArray(t *testing.T) {
	o := testObject(t)
	a := must[*maps.PerCPUArray[uint64]](t)(maps.NewPerCPUArray[uint64](testMap(t, o, "pc_array")))
	run(t, o, "touch", 1000) // adds 1 to index 0 on the CPU it runs on
	sum := uint64(0)
	for _, v := range must[[]uint64](t)(a.Lookup(0)) {
		sum += v
	}
	if sum != 1000 {
		t.Fatalf("sum over CPUs = %d after 1000 runs", sum)
	}
	vals := make([]uint64, a.NumCPU())
	vals[len(vals)-1] = 42
	if err := a.Update(3, vals, maps.UpdateAny); err != nil {
		t.Fatal(err)
	}
	into := make([]uint64, a.NumCPU())
	if err := a.LookupInto(3, into); err != nil || into[len(into)-1] != 42 {
		t.Fatalf("LookupInto = %v, %v", into, err)
	}
	_, err := a.Lookup(4)
	wantErr(t, err, maps.ErrKeyNotExist)
	n := 0
	it := a.Iterate()
	for range it.All() {
		n++
	}
	if n != 4 || it.Err() != nil {
		t.Fatalf("iteration: %d entries, %v", n, it.Err())
	}
}

func TestPerCPUBatch(t *testing.T) {
	o := testObject(t)
	ncpu := must[int](t)(maps.PossibleCPUs())
	direct := must[*maps.PerCPUHash[uint32, odd]](t)(maps.NewPerCPUHash[uint32, odd](testMap(t, o, "pc_hash")))
	rounded := must[*maps.LRUPerCPUHash[uint32, uint32]](t)(maps.NewLRUPerCPUHash[uint32, uint32](testMap(t, o, "lru_pc")))

	const n = 20
	keys := make([]uint32, n)
	ov := make([]odd, n*ncpu)
	uv := make([]uint32, n*ncpu)
	for i := range keys {
		keys[i] = uint32(i) + 100
		for j := range ncpu {
			ov[i*ncpu+j] = odd{X: uint32(i), Y: uint16(j)}
			uv[i*ncpu+j] = uint32(i<<8 | j)
		}
	}
	if _, err := direct.BatchUpdate(keys, ov[:ncpu]); err == nil {
		t.Fatal("BatchUpdate with values for one key accepted")
	}
	if c, err := direct.BatchUpdate(keys, ov); err != nil || c != n {
		t.Fatalf("PerCPUHash.BatchUpdate = %d, %v", c, err)
	}
	if c, err := rounded.BatchUpdate(keys, uv); err != nil || c != n {
		t.Fatalf("LRUPerCPUHash.BatchUpdate = %d, %v", c, err)
	}

	var cur maps.Cursor
	kb, ob := make([]uint32, 64), make([]odd, 64*ncpu)
	seen := 0
	for !cur.Done() {
		c, err := direct.BatchLookup(&cur, kb, ob)
		if err != nil {
			t.Fatal(err)
		}
		for i := range c {
			for j := range ncpu {
				if want := (odd{X: kb[i] - 100, Y: uint16(j)}); ob[i*ncpu+j] != want {
					t.Fatalf("key %d CPU %d: %+v, want %+v", kb[i], j, ob[i*ncpu+j], want)
				}
			}
		}
		seen += c
	}
	if seen != n {
		t.Fatalf("PerCPUHash batch walk saw %d keys", seen)
	}

	cur.Reset()
	ub := make([]uint32, 64*ncpu)
	seen = 0
	for !cur.Done() {
		c, err := rounded.BatchLookup(&cur, kb, ub)
		if err != nil {
			t.Fatal(err)
		}
		for i := range c {
			for j := range ncpu {
				if want := (kb[i]-100)<<8 | uint32(j); ub[i*ncpu+j] != want {
					t.Fatalf("key %d CPU %d: %#x, want %#x (8-byte stride lost?)", kb[i], j, ub[i*ncpu+j], want)
				}
			}
		}
		seen += c
	}
	if seen != n {
		t.Fatalf("LRUPerCPUHash batch walk saw %d keys", seen)
	}

	pa := must[*maps.PerCPUArray[uint64]](t)(maps.NewPerCPUArray[uint64](testMap(t, o, "pc_array")))
	av := make([]uint64, 4*ncpu)
	for i := range av {
		av[i] = uint64(i) * 3
	}
	if c, err := pa.BatchUpdate([]uint32{0, 1, 2, 3}, av); err != nil || c != 4 {
		t.Fatalf("PerCPUArray.BatchUpdate = %d, %v", c, err)
	}
	cur = maps.Cursor{}
	ab := make([]uint64, 4*ncpu)
	c, err := pa.BatchLookup(&cur, make([]uint32, 4), ab)
	if err != nil || c != 4 || ab[4*ncpu-1] != av[4*ncpu-1] {
		t.Fatalf("PerCPUArray.BatchLookup = %d, %v, %v", c, err, ab)
	}
}
