// SPDX-License-Identifier: Apache-2.0

package maps_test

import (
	"bytes"
	"context"
	"encoding/binary"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"sync"
	"testing"
	"time"

	"github.com/bpfkit/bpfkit/internal/testutil"
	"github.com/bpfkit/bpfkit/loader"
	"github.com/bpfkit/bpfkit/maps"
)

// eventsEvent is struct event of bpf/testdata/realworld/events.bpf.c (32 bytes).
type eventsEvent struct {
	Seq  uint32
	Run  uint32
	Ts   uint64
	Comm [16]byte
}

// eventsObject loads bpf/testdata/realworld/events.bpf.o with nr events per run; it
// is closed when the test ends.
func eventsObject(t testing.TB, nr uint32) *loader.Object {
	t.Helper()
	testutil.RequirePrivileged(t)
	elf, err := os.ReadFile(filepath.Join("..", "bpf", "testdata", "realworld", "events.bpf.o"))
	if err != nil {
		t.Fatal(err)
	}
	o, err := loader.OpenBytes("events.bpf.o", elf, nil)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { o.Close() })
	if err := o.SetGlobal("nr", nr); err != nil {
		t.Fatal(err)
	}
	if err := o.Load(); err != nil {
		t.Fatal(err)
	}
	return o
}

// TestRawRingBuf reads records of 4 to 67 bytes and checks each one's bytes.
func TestRawRingBuf(t *testing.T) {
	o := eventsObject(t, 64)
	rb := must[*maps.RawRingBuf](t)(maps.NewRawRingBuf(testMap(t, o, "msgs")))
	t.Cleanup(func() { rb.Close() })
	if rb.Name() != "msgs" {
		t.Errorf("Name = %q", rb.Name())
	}

	run(t, o, "emit_msgs", 2)
	want := 0
	for i := range 64 {
		want += (4 + i + 7) &^ 7
	}
	if got := rb.Available(); got != 2*(want+64*8) {
		t.Fatalf("Available = %d, want %d (two runs of 64 records and their headers)", got, 2*(want+64*8))
	}
	ctx := context.Background()
	buf := make([]byte, 0, 128)
	for r := range 2 {
		for i := range 64 {
			rec, err := rb.ReadInto(ctx, buf)
			if err != nil {
				t.Fatal(err)
			}
			if len(rec) != 4+i {
				t.Fatalf("run %d record %d: %d bytes, want %d", r, i, len(rec), 4+i)
			}
			if &rec[0] != &buf[:1][0] {
				t.Fatalf("record %d: ReadInto allocated although buf had room", i)
			}
			seq, n := binary.NativeEndian.Uint16(rec), binary.NativeEndian.Uint16(rec[2:])
			if int(seq) != i || int(n) != i || !bytes.Equal(rec[4:], bytes.Repeat([]byte{byte(i)}, i)) {
				t.Fatalf("run %d record %d: % x", r, i, rec)
			}
		}
	}
	if got := rb.Available(); got != 0 {
		t.Fatalf("Available after reading everything = %d", got)
	}

	// A buffer too small grows; Read allocates one per record.
	run(t, o, "emit_msgs", 1)
	small := make([]byte, 0, 2)
	for i := range 64 {
		var rec []byte
		var err error
		if i%2 == 0 {
			rec, err = rb.ReadInto(ctx, small)
		} else {
			rec, err = rb.Read(ctx)
		}
		if err != nil || len(rec) != 4+i || int(binary.NativeEndian.Uint16(rec)) != i {
			t.Fatalf("record %d: % x, %v", i, rec, err)
		}
	}

	// Empty: a read blocks until the context ends, then until the program writes.
	short, cancel := context.WithTimeout(ctx, 50*time.Millisecond)
	defer cancel()
	if _, err := rb.Read(short); !errors.Is(err, context.DeadlineExceeded) {
		t.Fatalf("Read on an empty ring: %v, want DeadlineExceeded", err)
	}
	got := make(chan []byte, 1)
	go func() {
		rec, err := rb.Read(context.Background())
		if err != nil {
			t.Error(err)
		}
		got <- rec
	}()
	time.Sleep(20 * time.Millisecond)
	run(t, o, "emit_msgs", 1)
	select {
	case rec := <-got:
		if len(rec) != 4 {
			t.Fatalf("woken reader got % x", rec)
		}
	case <-time.After(5 * time.Second):
		t.Fatal("blocked reader was not woken by new records")
	}

	if err := rb.Close(); err != nil {
		t.Fatal(err)
	}
	if rec, err := rb.ReadInto(ctx, buf); !errors.Is(err, maps.ErrClosed) || len(rec) != 0 {
		t.Fatalf("ReadInto after Close = % x, %v; want nothing and ErrClosed", rec, err)
	}
	if _, err := maps.NewRawRingBuf(testMap(t, o, "perf_events")); !errors.Is(err, maps.ErrMapType) {
		t.Fatalf("NewRawRingBuf on a perf event array: %v, want ErrMapType", err)
	}
}

// TestRingBufReadAllocations holds the readers' paths with an event ready to no
// allocation.
func TestRingBufReadAllocations(t *testing.T) {
	o := eventsObject(t, 64)
	rb := must[*maps.RingBuf[eventsEvent]](t)(maps.NewRingBuf[eventsEvent](testMap(t, o, "events")))
	defer rb.Close()
	raw := must[*maps.RawRingBuf](t)(maps.NewRawRingBuf(testMap(t, o, "msgs")))
	defer raw.Close()
	ctx := context.Background()
	var e eventsEvent
	batch := make([]eventsEvent, 4)
	buf := make([]byte, 0, 128)
	for name, c := range map[string]struct {
		prog string
		read func()
	}{
		"RingBuf.ReadInto":    {"emit_events", func() { rb.ReadInto(ctx, &e) }},
		"RingBuf.ReadBatch":   {"emit_events", func() { rb.ReadBatch(ctx, batch) }},
		"RawRingBuf.ReadInto": {"emit_msgs", func() { buf, _ = raw.ReadInto(ctx, buf) }},
	} {
		run(t, o, c.prog, 10) // 640 records: more than AllocsPerRun reads
		if n := testing.AllocsPerRun(100, c.read); n != 0 {
			t.Errorf("%s: %v allocations per read", name, n)
		}
	}
}

// TestRingBufCloseWhileReading closes a ring buffer reader from another goroutine while
// it reads as fast as it can and the program keeps writing: the reader sees whole events
// in order, then ErrClosed, never a fault; and the kernel's ring is released at Close,
// before the reader's next call.
func TestRingBufCloseWhileReading(t *testing.T) {
	for round := range 20 {
		o := eventsObject(t, 64)
		rb := must[*maps.RingBuf[eventsEvent]](t)(maps.NewRingBuf[eventsEvent](testMap(t, o, "events")))
		stop := make(chan struct{})
		var wg sync.WaitGroup
		wg.Add(1)
		go func() { // the producer
			defer wg.Done()
			p := must[*loader.Program](t)(o.Program("emit_events"))
			for {
				select {
				case <-stop:
					return
				default:
				}
				if _, err := p.Test(&loader.TestOptions{Data: make([]byte, 64)}); err != nil {
					t.Error(err)
					return
				}
			}
		}()
		result := make(chan error, 1)
		read := 0
		go func() {
			var e, last eventsEvent
			for {
				if err := rb.ReadInto(context.Background(), &e); err != nil {
					result <- err
					return
				}
				// a run stops early when the ring is full: the next starts at 0
				if read > 0 && !(e.Run == last.Run && e.Seq == last.Seq+1 || e.Run > last.Run && e.Seq == 0) {
					result <- fmt.Errorf("event run %d seq %d after run %d seq %d", e.Run, e.Seq, last.Run, last.Seq)
					return
				}
				read++
				last = e
			}
		}()
		time.Sleep(time.Duration(1+round%5) * time.Millisecond)
		if err := rb.Close(); err != nil {
			t.Fatal(err)
		}
		select {
		case err := <-result:
			if !errors.Is(err, maps.ErrClosed) {
				t.Fatalf("round %d: reader ended with %v after %d events, want ErrClosed", round, err, read)
			}
		case <-time.After(5 * time.Second):
			t.Fatalf("round %d: the reader did not return 5s after Close", round)
		}
		close(stop)
		wg.Wait()
	}
}

// TestRingBufCloseReleasesRing: Close alone lets the kernel free the ring once its
// object closes, with the reader still reachable and never called again.
func TestRingBufCloseReleasesRing(t *testing.T) {
	testutil.RequirePrivileged(t)
	elf, err := os.ReadFile(filepath.Join("..", "bpf", "testdata", "realworld", "events.bpf.o"))
	if err != nil {
		t.Fatal(err)
	}
	o, err := loader.OpenBytes("events.bpf.o", elf, nil)
	if err != nil {
		t.Fatal(err)
	}
	defer o.Close()
	if err := o.Load(); err != nil {
		t.Fatal(err)
	}
	fm := must[*maps.FDMap](t)(maps.FromFD(must[int](t)(mustMap(t, o, "events").FD())))
	id := must[uint32](t)(fm.ID())
	fm.Close()
	rb := must[*maps.RingBuf[eventsEvent]](t)(maps.NewRingBuf[eventsEvent](mustMap(t, o, "events")))
	raw := must[*maps.RawRingBuf](t)(maps.NewRawRingBuf(mustMap(t, o, "events")))
	run(t, o, "emit_events", 1)
	var e eventsEvent
	if err := rb.ReadInto(context.Background(), &e); err != nil {
		t.Fatal(err)
	}
	rb.Close()
	raw.Close()
	o.Close()
	if !mapGone(t, id) {
		t.Fatal("the ring buffer map outlived its object: a closed reader's mapping kept it")
	}
	if rb.Available() != 0 || raw.Available() != 0 {
		t.Fatal("a closed reader has bytes available")
	}
	if err := rb.ReadInto(context.Background(), &e); !errors.Is(err, maps.ErrClosed) {
		t.Fatalf("ReadInto after Close: %v", err)
	}
}
