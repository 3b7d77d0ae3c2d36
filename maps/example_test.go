// SPDX-License-Identifier: Apache-2.0

package maps_test

import (
	"context"
	"encoding/binary"
	"fmt"
	"log"

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
// then, and every operation after is one bpf(2) syscall.
func ExampleNewHash() {
	obj, err := loader.Open("counter.bpf.o", nil)
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
	c, err := counters.LookupLocked(17)
	if err != nil {
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
