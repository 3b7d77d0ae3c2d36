// SPDX-License-Identifier: Apache-2.0

package maps_test

import (
	"errors"
	"slices"
	"strings"
	"testing"

	"github.com/cilium/ebpf"
	"golang.org/x/sys/unix"

	"github.com/bpfkit/bpfkit/internal/sys"
	"github.com/bpfkit/bpfkit/maps"
)

// flow and nested are struct flow and struct nested of maps.bpf.c.
type flow struct {
	Addr  uint32
	Port  uint16
	Proto uint16
}

type inner struct{ X, Y uint32 }

type nested struct {
	In   inner
	Arr  [3]uint64
	Name [8]byte
	Tail uint16
	_    [6]byte
}

func TestNestedLayoutAgainstObjectBTF(t *testing.T) {
	o := testObject(t)
	m := testMap(t, o, "h_nested")
	h, err := maps.NewHash[flow, nested](m)
	if err != nil {
		t.Fatal(err)
	}
	k := flow{Addr: 0x0100007f, Port: 53, Proto: 17}
	v := nested{In: inner{1, 2}, Arr: [3]uint64{3, 4, 5}, Tail: 6}
	copy(v.Name[:], "dns")
	if err := h.Update(k, v, maps.UpdateAny); err != nil {
		t.Fatal(err)
	}
	if got := must[nested](t)(h.Lookup(k)); got != v {
		t.Fatalf("Lookup = %+v", got)
	}

	// The same size, another layout: Arr is 2 elements and a Pad takes the room.
	type wrongNested struct {
		In   inner
		Arr  [2]uint64
		Pad  uint64
		Name [8]byte
		Tail uint16
		_    [6]byte
	}
	_, err = maps.NewHash[flow, wrongNested](m)
	wantErr(t, err, maps.ErrLayout)
	for _, w := range []string{"wrongNested", `"h_nested"`, "field Arr:", "Go offset 8", "BTF offset 8"} {
		if !strings.Contains(err.Error(), w) {
			t.Errorf("error %q does not mention %q", err, w)
		}
	}
	// Port and Proto swapped in size: a key mismatch.
	type wrongKey struct {
		Addr  uint32
		Port  uint8
		_     uint8
		Proto uint16
	}
	_, err = maps.NewHash[wrongKey, nested](m)
	wantErr(t, err, maps.ErrLayout)
	if !strings.Contains(err.Error(), "key type") || !strings.Contains(err.Error(), "field Port:") {
		t.Errorf("key error %q", err)
	}
}

func TestGlobalDataArray(t *testing.T) {
	o := testObject(t)
	type bss struct {
		Runs      uint64
		FlagsSeen uint32
		_         uint32
	}
	m := testMap(t, o, ".bss")
	a, err := maps.NewArray[bss](m)
	if err != nil {
		t.Fatal(err)
	}
	run(t, o, "rb_fill", 3)
	if got := must[bss](t)(a.Lookup(0)); got.Runs != 3 {
		t.Fatalf(".bss runs = %d after 3 runs", got.Runs)
	}
	type swapped struct {
		FlagsSeen uint32
		_         uint32
		Runs      uint64
	}
	_, err = maps.NewArray[swapped](m)
	wantErr(t, err, maps.ErrLayout)
	if !strings.Contains(err.Error(), "field FlagsSeen (C runs)") {
		t.Errorf("error %q", err)
	}
	// .data holds events_per_run alone: its type stands for the section.
	d := must[*maps.Array[uint32]](t)(maps.NewArray[uint32](testMap(t, o, ".data")))
	if got := must[uint32](t)(d.Lookup(0)); got != 16 {
		t.Fatalf("events_per_run = %d, want its initial 16", got)
	}
}

func TestArray(t *testing.T) {
	o := testObject(t)
	a := must[*maps.Array[uint64]](t)(maps.NewArray[uint64](testMap(t, o, "a_plain")))
	if a.Len() != 8 || a.Name() != "a_plain" || a.Info().Type != ebpf.Array || a.HasLock() {
		t.Fatalf("Len %d Name %q Info %+v", a.Len(), a.Name(), a.Info())
	}
	for i := range uint32(8) {
		if err := a.Update(i, uint64(i)*11, maps.UpdateAny); err != nil {
			t.Fatal(err)
		}
	}
	if got := must[uint64](t)(a.Lookup(5)); got != 55 {
		t.Fatalf("Lookup(5) = %d", got)
	}
	var v uint64
	if err := a.LookupInto(7, &v); err != nil || v != 77 {
		t.Fatalf("LookupInto(7) = %d, %v", v, err)
	}
	_, err := a.Lookup(8)
	wantErr(t, err, maps.ErrKeyNotExist)
	wantErr(t, a.Update(8, 1, maps.UpdateAny), unix.E2BIG)
	wantErr(t, a.Update(1, 1, maps.UpdateNoExist), maps.ErrKeyExist)
	if err := a.Update(1, 1, maps.UpdateExist); err != nil {
		t.Fatal(err)
	}
	_, err = a.LookupLocked(1)
	wantErr(t, err, maps.ErrNoLock)
	wantErr(t, a.UpdateLocked(1, 1, maps.UpdateAny), maps.ErrNoLock)

	var idx []uint32
	it := a.Iterate()
	for i, v := range it.All() {
		idx = append(idx, i)
		if want := uint64(i) * 11; i != 1 && v != want {
			t.Fatalf("index %d = %d", i, v)
		}
	}
	if it.Err() != nil || !slices.Equal(idx, []uint32{0, 1, 2, 3, 4, 5, 6, 7}) {
		t.Fatalf("Iterate: %v %v", idx, it.Err())
	}
	n := 0
	for _, err := range a.All() {
		if err != nil {
			t.Fatal(err)
		}
		n++
	}
	if n != 8 {
		t.Fatalf("All yielded %d", n)
	}

	if c, err := a.BatchUpdate([]uint32{2, 3}, []uint64{200, 300}); err != nil || c != 2 {
		t.Fatalf("BatchUpdate = %d, %v", c, err)
	}
	var cur maps.Cursor
	ks, vs := make([]uint32, 3), make([]uint64, 3)
	var all []uint64
	for walked := 0; !cur.Done(); walked++ {
		if walked > 1000 {
			t.Fatal("the batch walk does not end")
		}
		c, err := a.BatchLookup(&cur, ks, vs)
		if err != nil {
			t.Fatal(err)
		}
		all = append(all, vs[:c]...)
	}
	if len(all) != 8 || all[2] != 200 || all[3] != 300 || all[7] != 77 {
		t.Fatalf("BatchLookup walked %v", all)
	}
	_, err = a.BatchLookupLocked(new(maps.Cursor), ks, vs)
	wantErr(t, err, maps.ErrNoLock)
	_, err = a.BatchUpdateLocked(ks, vs)
	wantErr(t, err, maps.ErrNoLock)
}

func TestQueueAndStack(t *testing.T) {
	o := testObject(t)
	q := must[*maps.Queue[uint64]](t)(maps.NewQueue[uint64](testMap(t, o, "queue")))
	s := must[*maps.Stack[uint64]](t)(maps.NewStack[uint64](testMap(t, o, "stack")))
	for _, f := range []interface {
		Push(uint64, maps.UpdateFlags) error
	}{q, s} {
		for i := range uint64(4) {
			if err := f.Push(i+1, maps.UpdateAny); err != nil {
				t.Fatal(err)
			}
		}
		wantErr(t, f.Push(5, maps.UpdateAny), unix.E2BIG)
		if err := f.Push(5, maps.UpdateExist); err != nil { // drops the oldest, 1
			t.Fatal(err)
		}
	}
	if v := must[uint64](t)(q.Peek()); v != 2 {
		t.Fatalf("queue Peek = %d, want 2", v)
	}
	var got []uint64
	for {
		v, err := q.Pop()
		if errors.Is(err, maps.ErrKeyNotExist) {
			break
		}
		if err != nil {
			t.Fatal(err)
		}
		got = append(got, v)
	}
	if !slices.Equal(got, []uint64{2, 3, 4, 5}) {
		t.Fatalf("queue popped %v", got)
	}
	_, err := q.Peek()
	wantErr(t, err, maps.ErrKeyNotExist)

	if v := must[uint64](t)(s.Peek()); v != 5 {
		t.Fatalf("stack Peek = %d, want 5", v)
	}
	got = got[:0]
	var v uint64
	for s.PopInto(&v) == nil {
		got = append(got, v)
	}
	if !slices.Equal(got, []uint64{5, 4, 3, 2}) {
		t.Fatalf("stack popped %v", got)
	}
	_, err = s.Pop()
	wantErr(t, err, maps.ErrKeyNotExist, unix.ENOENT)
}

type lpmKey struct {
	Prefixlen uint32
	Addr      [4]byte
}

func TestLPMTrie(t *testing.T) {
	o := testObject(t)
	l := must[*maps.LPMTrie[lpmKey, uint32]](t)(maps.NewLPMTrie[lpmKey, uint32](testMap(t, o, "lpm")))
	for _, e := range []struct {
		k lpmKey
		v uint32
	}{{lpmKey{8, [4]byte{10}}, 8}, {lpmKey{16, [4]byte{10, 1}}, 16}, {lpmKey{32, [4]byte{10, 1, 2, 3}}, 32}} {
		if err := l.Update(e.k, e.v, maps.UpdateNoExist); err != nil {
			t.Fatal(err)
		}
	}
	for _, c := range []struct {
		addr [4]byte
		want uint32
	}{{[4]byte{10, 1, 2, 3}, 32}, {[4]byte{10, 1, 9, 9}, 16}, {[4]byte{10, 200, 0, 1}, 8}} {
		if got := must[uint32](t)(l.Lookup(lpmKey{32, c.addr})); got != c.want {
			t.Errorf("longest prefix of %v = %d, want %d", c.addr, got, c.want)
		}
	}
	_, err := l.Lookup(lpmKey{32, [4]byte{11, 0, 0, 1}})
	wantErr(t, err, maps.ErrKeyNotExist)
	if err := l.Delete(lpmKey{16, [4]byte{10, 1}}); err != nil {
		t.Fatal(err)
	}
	if got := must[uint32](t)(l.Lookup(lpmKey{32, [4]byte{10, 1, 9, 9}})); got != 8 {
		t.Fatalf("after deleting /16: %d, want 8", got)
	}
	n := 0
	for e, err := range l.All() {
		if err != nil {
			t.Fatal(err)
		}
		if e.Key.Prefixlen != e.Value {
			t.Fatalf("entry %+v = %d", e.Key, e.Value)
		}
		n++
	}
	if n != 2 {
		t.Fatalf("iteration saw %d prefixes, want 2", n)
	}
}

func TestBloomFilter(t *testing.T) {
	o := testObject(t)
	b := must[*maps.BloomFilter[uint32]](t)(maps.NewBloomFilter[uint32](testMap(t, o, "bloom")))
	for i := range uint32(50) {
		if err := b.Add(i * 1000); err != nil {
			t.Fatal(err)
		}
	}
	for i := range uint32(50) {
		if ok := must[bool](t)(b.Contains(i * 1000)); !ok {
			t.Fatalf("Contains(%d) = false after Add", i*1000)
		}
	}
	misses := 0
	for i := range uint32(1000) {
		if ok := must[bool](t)(b.Contains(i*1000 + 1)); !ok {
			misses++
		}
	}
	if misses == 0 {
		t.Fatal("a bloom filter of 128 entries said yes to 1000 values never added")
	}
}

// TestLPMTrieBatch: the kernel has batch lookups, updates and deletes for tries (5.13+),
// which LPMTrie offers; on an older kernel their refusal wraps ErrNotSupported and names
// 5.13 (pretended here: this machine's kernel has them).
func TestLPMTrieBatch(t *testing.T) {
	o := testObject(t)
	l := must[*maps.LPMTrie[lpmKey, uint32]](t)(maps.NewLPMTrie[lpmKey, uint32](testMap(t, o, "lpm")))
	keys := []lpmKey{{8, [4]byte{10}}, {16, [4]byte{10, 1}}, {24, [4]byte{10, 1, 2}}}
	if n, err := l.BatchUpdate(keys, []uint32{8, 16, 24}); err != nil || n != 3 {
		t.Fatalf("BatchUpdate = %d, %v", n, err)
	}
	var c maps.Cursor
	got := make([]lpmKey, 8)
	vals := make([]uint32, 8)
	n, err := l.BatchLookup(&c, got, vals)
	if err != nil || n != 3 || !c.Done() {
		t.Fatalf("BatchLookup = %d, %v (done %v)", n, err, c.Done())
	}
	for i := range n {
		if got[i].Prefixlen != vals[i] {
			t.Fatalf("entry %+v = %d", got[i], vals[i])
		}
	}
	if n, err := l.BatchDelete(keys[:2]); err != nil || n != 2 {
		t.Fatalf("BatchDelete = %d, %v", n, err)
	}
	restore := sys.PretendKernel(sys.Version{Major: 5, Minor: 12})
	defer restore()
	// a prefix longer than the trie's: EINVAL, which a 5.12 kernel gives every batch
	_, err = l.BatchUpdate([]lpmKey{{99, [4]byte{}}}, []uint32{1})
	wantErr(t, err, maps.ErrNotSupported, unix.EINVAL)
	if !strings.Contains(err.Error(), "needs Linux 5.13 or later, this is 5.12") {
		t.Fatalf("error %q does not name the kernel", err)
	}
	restore()
	_, err = l.BatchUpdate([]lpmKey{{99, [4]byte{}}}, []uint32{1})
	if errors.Is(err, maps.ErrNotSupported) || !errors.Is(err, unix.EINVAL) {
		t.Fatalf("the same refusal on a kernel with trie batches: %v, want the bare EINVAL", err)
	}
}
