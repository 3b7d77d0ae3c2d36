// SPDX-License-Identifier: Apache-2.0

package maps_test

import (
	"context"
	"encoding/binary"
	"errors"
	"fmt"
	"log"
	"testing"

	"github.com/bpfkit/bpfkit/bpf/examples"
	"github.com/bpfkit/bpfkit/internal/testutil"
	"github.com/bpfkit/bpfkit/loader"
	"github.com/bpfkit/bpfkit/maps"
)

// Counter mirrors a C value that holds a lock:
//
//	struct counter { struct bpf_spin_lock lock; __u32 pad; __u64 packets; __u64 bytes; };
type Counter struct {
	Lock    maps.SpinLock
	_       uint32
	Packets uint64
	Bytes   uint64
}

// A Hash is built once on a loaded map; the Go types are checked against the map's BTF
// then, and every operation after is one bpf(2) syscall. The object is examples/spinlock's
// (embedded by package bpf/examples): its XDP program counts packets per IP protocol in
// the hash map "counters", under the value's lock.
func ExampleNewHash() {
	obj, err := loader.OpenBytes("spinlock.bpf.o", examples.SpinLock, nil)
	if err != nil {
		log.Fatal(err)
	}
	defer obj.Close()
	if err := obj.Load(); err != nil {
		log.Fatal(err)
	}
	m, err := obj.Map("counters")
	if err != nil {
		log.Fatal(err)
	}
	counters, err := maps.NewHash[uint32, Counter](m) // ErrLayout names the first differing field
	if err != nil {
		log.Fatal(err)
	}
	// LookupLocked copies packets and bytes under the value's bpf_spin_lock.
	const udp = 17
	c, err := counters.LookupLocked(udp)
	if err != nil && !errors.Is(err, maps.ErrKeyNotExist) {
		log.Fatal(err)
	}
	fmt.Println(c.Packets, c.Bytes)

	it := counters.Iterate()
	for proto, c := range it.All() {
		fmt.Println(proto, c.Packets)
	}
	if err := it.Err(); err != nil {
		log.Fatal(err)
	}
}

// The check of the Go types needs no privileges: a map of an object that is only opened
// has its BTF already. Operations need the loaded map.
func ExampleNewHash_layout() {
	obj, err := loader.OpenBytes("spinlock.bpf.o", examples.SpinLock, nil)
	if err != nil {
		log.Fatal(err)
	}
	defer obj.Close()
	m, err := obj.Map("counters")
	if err != nil {
		log.Fatal(err)
	}
	counters, err := maps.NewHash[uint32, Counter](m)
	fmt.Println(err, counters.HasLock())

	// packets is at offset 8 in C, after the lock and the padding.
	type wrong struct {
		Lock    maps.SpinLock
		Packets uint32
		Bytes   [2]uint64
	}
	_, err = maps.NewHash[uint32, wrong](m)
	fmt.Println(errors.Is(err, maps.ErrLayout))
	_, err = maps.NewHash[uint64, Counter](m) // the key is a __u32
	fmt.Println(errors.Is(err, maps.ErrLayout))

	_, err = counters.LookupLocked(17)
	fmt.Println(errors.Is(err, loader.ErrNotLoaded))
	// Output:
	// <nil> true
	// true
	// true
	// true
}

// Batches walk a map with a Cursor, many entries per syscall.
func ExampleHash_BatchLookup() {
	var counters *maps.Hash[uint32, Counter] // from NewHash
	keys, values := make([]uint32, 1024), make([]Counter, 1024)
	var c maps.Cursor
	for !c.Done() {
		n, err := counters.BatchLookup(&c, keys, values)
		if err != nil {
			log.Fatal(err)
		}
		for i := range n {
			fmt.Println(keys[i], values[i].Packets)
		}
	}
}

// A RawRingBuf reads records of any size: here a 4-byte header and a variable tail.
func ExampleNewRawRingBuf() {
	var m maps.Map // a BPF_MAP_TYPE_RINGBUF, e.g. obj.Map("msgs")
	rb, err := maps.NewRawRingBuf(m)
	if err != nil {
		log.Fatal(err)
	}
	defer rb.Close()
	buf := make([]byte, 0, 256) // reused: no allocation while records fit
	for {
		buf, err = rb.ReadInto(context.Background(), buf)
		if err != nil {
			return // maps.ErrClosed
		}
		if len(buf) >= 4 {
			fmt.Printf("record %d: %q\n", binary.NativeEndian.Uint16(buf), buf[4:])
		}
	}
}

// A RingBuf reads typed events until its context ends.
func ExampleNewRingBuf() {
	type Event struct {
		PID  uint32
		Comm [16]byte
		_    [4]byte
	}
	var m maps.Map // a BPF_MAP_TYPE_RINGBUF, e.g. obj.Map("events")
	rb, err := maps.NewRingBuf[Event](m)
	if err != nil {
		log.Fatal(err)
	}
	defer rb.Close()
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	for {
		e, err := rb.Read(ctx)
		if err != nil {
			return // ctx.Err() or maps.ErrClosed
		}
		fmt.Println(e.PID)
	}
}

// TestExampleNewHashRuns runs ExampleNewHash, which needs privileges and so has no
// Output line for go test to compare: the object it opens must exist and hold the map
// and types it uses (it exits the test binary through log.Fatal otherwise).
func TestExampleNewHashRuns(t *testing.T) {
	testutil.RequirePrivileged(t)
	ExampleNewHash()
}
