// SPDX-License-Identifier: Apache-2.0

package maps_test

import (
	"errors"
	"fmt"
	"runtime"
	"slices"
	"strings"
	"testing"

	"golang.org/x/sys/unix"

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
	// One value more or one less than the possible CPUs (none, on one CPU) is refused
	// before any syscall, with both counts.
	for _, n := range []int{ncpu - 1, ncpu + 1} {
		want := fmt.Sprintf(`in map "pc_hash": %d values given, the map has %d possible CPUs`, n, ncpu)
		if err := h.LookupInto(1, make([]odd, n)); err == nil || !strings.Contains(err.Error(), "lookup "+want) {
			t.Fatalf("LookupInto with %d values: %v, want %q", n, err, want)
		}
		if err := h.Update(2, make([]odd, n), maps.UpdateAny); err == nil || !strings.Contains(err.Error(), "update "+want) {
			t.Fatalf("Update with %d values: %v, want %q", n, err, want)
		}
		_, err := h.Lookup(2)
		wantErr(t, err, maps.ErrKeyNotExist)
	}
	fake := fakeMap(must[maps.Info](t)(testMap(t, o, "pc_hash").Info()))
	fh := must[*maps.PerCPUHash[uint32, odd]](t)(maps.NewPerCPUHash[uint32, odd](fake))
	if fh.LookupInto(1, make([]odd, ncpu+1)) == nil || fh.Update(1, make([]odd, ncpu+1), maps.UpdateAny) == nil || fake.FDCalls != 0 {
		t.Fatalf("wrong lengths on a map without descriptor: asked for it %d times", fake.FDCalls)
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

// TestPerCPUOnEachCPU runs the program that adds 1 to pc_array[0] on the CPU it runs
// on a different number of times on each CPU (pinning the thread that runs it): each
// CPU's value must be its own count, at its own index. On one CPU it still checks that
// index 0 holds every run, and nothing else is counted.
func TestPerCPUOnEachCPU(t *testing.T) {
	o := testObject(t)
	a := must[*maps.PerCPUArray[uint64]](t)(maps.NewPerCPUArray[uint64](testMap(t, o, "pc_array")))
	want := make([]uint64, a.NumCPU())
	ran := 0
	for cpu := range a.NumCPU() {
		n := uint32(10*cpu + 7)
		if !onCPU(t, cpu, func() { run(t, o, "touch", n) }) {
			continue // possible, but not online
		}
		want[cpu] = uint64(n)
		ran++
	}
	if ran == 0 {
		t.Fatal("could not run on any CPU")
	}
	got := must[[]uint64](t)(a.Lookup(0))
	if !slices.Equal(got, want) {
		t.Fatalf("per-CPU values %v, want %v (10×CPU+7 runs on each CPU)", got, want)
	}
	t.Logf("%d CPUs ran the program: %v", ran, got)
}

// onCPU runs fn on a thread pinned to cpu; false if the CPU is not online.
func onCPU(t *testing.T, cpu int, fn func()) bool {
	t.Helper()
	runtime.LockOSThread()
	defer runtime.UnlockOSThread()
	var old, set unix.CPUSet
	if err := unix.SchedGetaffinity(0, &old); err != nil {
		t.Fatal(err)
	}
	set.Set(cpu)
	if err := unix.SchedSetaffinity(0, &set); err != nil {
		if errors.Is(err, unix.EINVAL) {
			t.Logf("CPU %d is not online", cpu)
			return false
		}
		t.Fatal(err)
	}
	defer unix.SchedSetaffinity(0, &old)
	fn()
	return true
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
	want := fmt.Sprintf(`batch update in map "pc_hash": %d values for %d keys, need %d (keys × %d possible CPUs)`, ncpu, n, n*ncpu, ncpu)
	if _, err := direct.BatchUpdate(keys, ov[:ncpu]); err == nil || err.Error() != want {
		t.Fatalf("BatchUpdate with values for one key: %v, want %q", err, want)
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
	for walked := 0; !cur.Done(); walked++ {
		if walked > 1000 {
			t.Fatal("the batch walk does not end")
		}
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
	for walked := 0; !cur.Done(); walked++ {
		if walked > 1000 {
			t.Fatal("the batch walk does not end")
		}
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
