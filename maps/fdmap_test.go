// SPDX-License-Identifier: Apache-2.0

package maps_test

import (
	"context"
	"errors"
	"os"
	"strings"
	"testing"

	"github.com/cilium/ebpf"
	"golang.org/x/sys/unix"

	"github.com/bpfkit/bpfkit/maps"
)

func TestRingBufWraps(t *testing.T) {
	o := testObject(t)
	d := must[*maps.Array[uint32]](t)(maps.NewArray[uint32](testMap(t, o, ".data")))
	if err := d.Update(0, 4096, maps.UpdateAny); err != nil {
		t.Fatal(err)
	}
	rb := must[*maps.RingBuf[event]](t)(maps.NewRingBuf[event](testMap(t, o, "rb")))
	defer rb.Close()
	// 1 MiB holds 14563 records of 72 bytes: 4 rounds of 3×4096 cross the end of the ring.
	var e event
	for round := range uint64(4) {
		run(t, o, "rb_fill", 3)
		for r := range uint64(3) {
			for s := range uint64(4096) {
				if err := rb.ReadInto(context.Background(), &e); err != nil {
					t.Fatal(err)
				}
				if e.Run != round*3+r || e.Seq != s {
					t.Fatalf("round %d: event run %d seq %d, want %d %d", round, e.Run, e.Seq, round*3+r, s)
				}
			}
		}
		// Read one at a time, the consumer position is published in steps, and always
		// once the reader has caught up: a second reader of the page sees an empty ring.
		other := must[*maps.RingBuf[event]](t)(maps.NewRingBuf[event](testMap(t, o, "rb")))
		if n := other.Available(); n != 0 {
			t.Fatalf("round %d: the kernel still sees %d unconsumed bytes after the reader caught up", round, n)
		}
		other.Close()
	}
}

func TestFromFD(t *testing.T) {
	o := testObject(t)
	lm := testMap(t, o, "h_nested")
	fd := must[int](t)(lm.FD())
	m, err := maps.FromFD(fd)
	if err != nil {
		t.Fatal(err)
	}
	defer m.Close()
	info := must[maps.Info](t)(m.Info())
	if info.Name != "h_nested" || info.Type != ebpf.Hash || info.KeySize != 8 || info.ValueSize != 48 || info.MaxEntries != 128 {
		t.Fatalf("Info = %+v", info)
	}
	if info.Key == nil || info.Value == nil {
		t.Fatal("FromFD found no BTF key/value types")
	}
	if id := must[uint32](t)(m.ID()); id == 0 {
		t.Fatal("ID 0")
	}
	// The kernel's copy of the BTF drives the same check.
	h, err := maps.NewHash[flow, nested](m)
	if err != nil {
		t.Fatal(err)
	}
	if err := h.Update(flow{Port: 1}, nested{Tail: 9}, maps.UpdateAny); err != nil {
		t.Fatal(err)
	}
	lh := must[*maps.Hash[flow, nested]](t)(maps.NewHash[flow, nested](lm))
	if v := must[nested](t)(lh.Lookup(flow{Port: 1})); v.Tail != 9 {
		t.Fatal("an update through FromFD is not visible through the loader's map")
	}
	type bad struct {
		A [6]uint64
	}
	if _, err := maps.NewHash[flow, bad](m); !errors.Is(err, maps.ErrLayout) || !strings.Contains(err.Error(), `"h_nested"`) {
		t.Fatalf("mismatch against kernel BTF: %v, want ErrLayout naming the map", err)
	}

	// Close: idempotent, and the accessor then fails with ErrClosed.
	if err := m.Close(); err != nil {
		t.Fatal(err)
	}
	if err := m.Close(); err != nil {
		t.Fatal(err)
	}
	var nilMap *maps.FDMap
	if err := nilMap.Close(); err != nil {
		t.Fatal(err)
	}
	_, err = h.Lookup(flow{Port: 1})
	wantErr(t, err, maps.ErrClosed)
	_, err = m.Info()
	wantErr(t, err, maps.ErrClosed)
	// The caller's fd is still open.
	if v := must[nested](t)(lh.Lookup(flow{Port: 1})); v.Tail != 9 {
		t.Fatal("FromFD closed the caller's descriptor")
	}
	if _, err := maps.FromFD(-1); !errors.Is(err, unix.EBADF) || !strings.Contains(err.Error(), "maps.FromFD(-1)") {
		t.Fatalf("FromFD(-1): %v, want EBADF", err)
	}
	// A descriptor that is no map.
	null := must[*os.File](t)(os.Open(os.DevNull))
	defer null.Close()
	if _, err := maps.FromFD(int(null.Fd())); !errors.Is(err, unix.EINVAL) {
		t.Fatalf("FromFD(%s): %v, want EINVAL", os.DevNull, err)
	}
}

func TestMapOfMaps(t *testing.T) {
	o := testObject(t)
	innerA, innerB := testMap(t, o, "inner_a"), testMap(t, o, "inner_b")
	h := must[*maps.HashOfMaps[uint32]](t)(maps.NewHashOfMaps[uint32](testMap(t, o, "hom")))
	if err := h.Update(1, innerA, maps.UpdateNoExist); err != nil {
		t.Fatal(err)
	}
	wantErr(t, h.Update(1, innerB, maps.UpdateNoExist), maps.ErrKeyExist)
	a := must[*maps.Array[uint64]](t)(maps.NewArray[uint64](innerA))
	if err := a.Update(0, 1234, maps.UpdateAny); err != nil {
		t.Fatal(err)
	}
	run(t, o, "touch", 1) // copies hom[1][0] to flags_seen
	type bss struct {
		Runs      uint64
		FlagsSeen uint32
	}
	g := must[*maps.Array[bss]](t)(maps.NewArray[bss](testMap(t, o, ".bss")))
	if v := must[bss](t)(g.Lookup(0)); v.FlagsSeen != 1234 {
		t.Fatalf("the program read %d through the inner map, want 1234", v.FlagsSeen)
	}
	// The batch operations refuse a Go value type padded beyond the 12-byte section.
	if _, err := g.BatchLookup(new(maps.Cursor), make([]uint32, 1), make([]bss, 1)); err == nil ||
		!strings.Contains(err.Error(), "the Go value type is 16 bytes, the map's values 12") {
		t.Fatalf("batch with a 16-byte Go type on a 12-byte section: %v", err)
	}

	id := must[uint32](t)(h.LookupID(1))
	im := must[*maps.FDMap](t)(h.Lookup(1))
	defer im.Close()
	if got := must[uint32](t)(im.ID()); got != id {
		t.Fatalf("inner map ID %d, LookupID %d", got, id)
	}
	ia := must[*maps.Array[uint64]](t)(maps.NewArray[uint64](im))
	if v := must[uint64](t)(ia.Lookup(0)); v != 1234 {
		t.Fatalf("inner map through Lookup: %d", v)
	}
	if err := h.Delete(1); err != nil {
		t.Fatal(err)
	}
	wantErr(t, h.Delete(1), maps.ErrKeyNotExist)
	_, err := h.LookupID(1)
	wantErr(t, err, maps.ErrKeyNotExist)

	ao := must[*maps.ArrayOfMaps](t)(maps.NewArrayOfMaps(testMap(t, o, "aom")))
	if err := ao.Update(2, innerB, maps.UpdateAny); err != nil {
		t.Fatal(err)
	}
	idB := must[uint32](t)(ao.LookupID(2))
	bm := must[*maps.FDMap](t)(maps.FromFD(must[int](t)(innerB.FD())))
	defer bm.Close()
	if got := must[uint32](t)(bm.ID()); got != idB {
		t.Fatalf("array of maps slot 2 holds map %d, want inner_b %d", idB, got)
	}
	if err := ao.Delete(2); err != nil {
		t.Fatal(err)
	}
	_, err = ao.LookupID(2)
	wantErr(t, err, maps.ErrKeyNotExist)
	// An inner map of another shape is refused by the kernel.
	if err := ao.Update(0, testMap(t, o, "h_plain"), maps.UpdateAny); !errors.Is(err, unix.EINVAL) {
		t.Fatalf("a hash map as inner map of an array-of-arrays: %v, want EINVAL", err)
	}
}

func TestUseAfterClose(t *testing.T) {
	o := testObject(t)
	h := must[*maps.Hash[uint32, plain]](t)(maps.NewHash[uint32, plain](testMap(t, o, "h_plain")))
	q := must[*maps.Queue[uint64]](t)(maps.NewQueue[uint64](testMap(t, o, "queue")))
	pc := must[*maps.PerCPUArray[uint64]](t)(maps.NewPerCPUArray[uint64](testMap(t, o, "pc_array")))
	lm := testMap(t, o, "h_plain")
	if err := o.Close(); err != nil {
		t.Fatal(err)
	}
	_, err := h.Lookup(1)
	wantErr(t, err, maps.ErrClosed)
	wantErr(t, h.Update(1, plain{}, maps.UpdateAny), maps.ErrClosed)
	wantErr(t, h.Delete(1), maps.ErrClosed)
	_, err = h.BatchLookup(new(maps.Cursor), make([]uint32, 2), make([]plain, 2))
	wantErr(t, err, maps.ErrClosed)
	it := h.Iterate()
	for range it.All() {
		t.Fatal("closed map yielded an entry")
	}
	wantErr(t, it.Err(), maps.ErrClosed)
	_, err = q.Pop()
	wantErr(t, err, maps.ErrClosed)
	_, err = pc.Lookup(0)
	wantErr(t, err, maps.ErrClosed)
	_, err = maps.NewHash[uint32, plain](lm)
	wantErr(t, err, maps.ErrClosed)
}
