// SPDX-License-Identifier: Apache-2.0

package maps_test

import (
	"context"
	"errors"
	"runtime"
	"strings"
	"testing"
	"time"

	"github.com/bpfkit/bpfkit/maps"
	"golang.org/x/sys/unix"
)

// event is struct event of maps.bpf.c: 64 bytes.
type event struct {
	Seq uint64
	Run uint64
	Pad [48]byte
}

func TestRingBuf(t *testing.T) {
	o := testObject(t)
	d := must[*maps.Array[uint32]](t)(maps.NewArray[uint32](testMap(t, o, ".data")))
	if err := d.Update(0, 5, maps.UpdateAny); err != nil { // events_per_run
		t.Fatal(err)
	}
	rb := must[*maps.RingBuf[event]](t)(maps.NewRingBuf[event](testMap(t, o, "rb")))
	t.Cleanup(func() { rb.Close() })

	run(t, o, "rb_fill", 4)
	if got := rb.Available(); got != 4*5*(64+8) {
		t.Fatalf("Available = %d, want %d", got, 4*5*72)
	}
	ctx := context.Background()
	for r := range uint64(4) {
		for s := range uint64(5) {
			var e event
			if err := rb.ReadInto(ctx, &e); err != nil {
				t.Fatal(err)
			}
			if e.Run != r || e.Seq != s {
				t.Fatalf("event run %d seq %d, want %d %d", e.Run, e.Seq, r, s)
			}
		}
	}

	// ReadBatch takes what is there, up to the room given.
	run(t, o, "rb_fill", 2)
	batch := make([]event, 8)
	if n, err := rb.ReadBatch(ctx, batch); err != nil || n != 8 || batch[7].Run != 5 || batch[7].Seq != 2 {
		t.Fatalf("ReadBatch = %d, %v, last %+v", n, err, batch[7])
	}
	if n, err := rb.ReadBatch(ctx, batch); err != nil || n != 2 || batch[1].Run != 5 || batch[1].Seq != 4 {
		t.Fatalf("second ReadBatch = %d, %v", n, err)
	}

	// Empty: Read blocks until the context ends.
	ctx, cancel := context.WithTimeout(context.Background(), 50*time.Millisecond)
	defer cancel()
	if _, err := rb.Read(ctx); !errors.Is(err, context.DeadlineExceeded) {
		t.Fatalf("Read on an empty ring: %v, want DeadlineExceeded", err)
	}

	// A reader blocked in epoll wakes up when the program writes.
	got := make(chan event, 1)
	go func() {
		e, err := rb.Read(context.Background())
		if err != nil {
			t.Error(err)
		}
		got <- e
	}()
	time.Sleep(20 * time.Millisecond)
	run(t, o, "rb_fill", 1)
	select {
	case e := <-got:
		if e.Run != 6 || e.Seq != 0 {
			t.Fatalf("woken reader got run %d seq %d", e.Run, e.Seq)
		}
	case <-time.After(5 * time.Second):
		t.Fatal("blocked reader was not woken by new events")
	}
	for range 4 {
		must[event](t)(rb.Read(context.Background()))
	}

	// Close wakes a blocked reader with ErrClosed.
	errc := make(chan error, 1)
	go func() { _, err := rb.Read(context.Background()); errc <- err }()
	time.Sleep(20 * time.Millisecond)
	if err := rb.Close(); err != nil {
		t.Fatal(err)
	}
	select {
	case err := <-errc:
		wantErr(t, err, maps.ErrClosed)
	case <-time.After(5 * time.Second):
		t.Fatal("Close did not wake the reader")
	}
	if err := rb.Close(); err != nil {
		t.Fatal("second Close:", err)
	}
	_, err := rb.Read(context.Background())
	wantErr(t, err, maps.ErrClosed)
}

func TestRingBufWrongEventSize(t *testing.T) {
	o := testObject(t)
	rb := must[*maps.RingBuf[[32]byte]](t)(maps.NewRingBuf[[32]byte](testMap(t, o, "rb")))
	defer rb.Close()
	run(t, o, "rb_fill", 1)
	_, err := rb.Read(context.Background())
	if err == nil || !errorContains(err, "record of 64 bytes, event type is 32 bytes") {
		t.Fatalf("64-byte record read as 32 bytes: %v", err)
	}
	if _, err := maps.NewRingBuf[*int](testMap(t, o, "rb")); !errors.Is(err, maps.ErrLayout) {
		t.Fatalf("pointer event type: %v", err)
	}
}

func TestPerfBuf(t *testing.T) {
	o := testObject(t)
	d := must[*maps.Array[uint32]](t)(maps.NewArray[uint32](testMap(t, o, ".data")))
	if err := d.Update(0, 10, maps.UpdateAny); err != nil {
		t.Fatal(err)
	}
	pb := must[*maps.PerfBuf[event]](t)(maps.NewPerfBuf[event](testMap(t, o, "perf"), 1))
	t.Cleanup(func() { pb.Close() })
	// Every test run on one CPU: the lost-sample record appears in the buffer of the CPU
	// that dropped samples, at its next write.
	runtime.LockOSThread()
	defer runtime.UnlockOSThread()
	var was, cpu0 unix.CPUSet
	if err := unix.SchedGetaffinity(0, &was); err != nil {
		t.Fatal(err)
	}
	cpu0.Set(0)
	if err := unix.SchedSetaffinity(0, &cpu0); err != nil {
		t.Fatal(err)
	}
	defer unix.SchedSetaffinity(0, &was)

	run(t, o, "perf_fill", 2)
	ctx := context.Background()
	for i := range uint64(20) {
		s, err := pb.Read(ctx)
		if err != nil {
			t.Fatal(err)
		}
		if s.Event.Run != i/10 || s.Event.Seq != i%10 || s.Lost != 0 {
			t.Fatalf("sample %d: %+v", i, s)
		}
	}
	ctx2, cancel := context.WithTimeout(ctx, 50*time.Millisecond)
	defer cancel()
	if _, err := pb.Read(ctx2); !errors.Is(err, context.DeadlineExceeded) {
		t.Fatalf("Read on empty buffers: %v", err)
	}

	// One page per CPU holds ~50 samples of 80 bytes: 500 in one run overflow it. The
	// kernel counts the rest as lost and writes a LOST record before the next sample that
	// fits, so a second run of one event follows the drain.
	if err := d.Update(0, 500, maps.UpdateAny); err != nil {
		t.Fatal(err)
	}
	run(t, o, "perf_fill", 1)
	read := 0
	var lostSeen uint64
	extra := false
	for {
		ctx3, cancel := context.WithTimeout(ctx, 50*time.Millisecond)
		s, err := pb.Read(ctx3)
		cancel()
		if errors.Is(err, context.DeadlineExceeded) {
			if extra {
				break
			}
			extra = true
			if err := d.Update(0, 1, maps.UpdateAny); err != nil {
				t.Fatal(err)
			}
			run(t, o, "perf_fill", 1)
			continue
		}
		if err != nil {
			t.Fatal(err)
		}
		read++
		lostSeen += s.Lost
	}
	if pb.Lost() == 0 || lostSeen != pb.Lost() || uint64(read)+pb.Lost() != 501 {
		t.Fatalf("read %d samples, %d lost (%d reported with samples); want read+lost = 500+1, lost > 0", read, pb.Lost(), lostSeen)
	}
	t.Logf("read %d, lost %d", read, pb.Lost())
	if err := pb.Close(); err != nil {
		t.Fatal(err)
	}
	_, err := pb.Read(ctx)
	wantErr(t, err, maps.ErrClosed)
	if _, err := maps.NewPerfBuf[event](testMap(t, o, "perf"), 3); err == nil {
		t.Fatal("3 pages per CPU accepted")
	}
}

func errorContains(err error, s string) bool {
	return err != nil && strings.Contains(err.Error(), s)
}

func TestPerfBufCloseWakesReader(t *testing.T) {
	o := testObject(t)
	pb := must[*maps.PerfBuf[event]](t)(maps.NewPerfBuf[event](testMap(t, o, "perf"), 0))
	errc := make(chan error, 1)
	go func() { _, err := pb.Read(context.Background()); errc <- err }()
	time.Sleep(20 * time.Millisecond)
	if err := pb.Close(); err != nil {
		t.Fatal(err)
	}
	select {
	case err := <-errc:
		wantErr(t, err, maps.ErrClosed)
	case <-time.After(5 * time.Second):
		t.Fatal("Close did not wake the reader")
	}
	if err := pb.Close(); err != nil {
		t.Fatal("second Close:", err)
	}
	// Close took the perf events out of the map.
	var nilPB *maps.PerfBuf[event]
	if err := nilPB.Close(); err != nil {
		t.Fatal(err)
	}
}
