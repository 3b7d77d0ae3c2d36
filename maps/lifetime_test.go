// SPDX-License-Identifier: Apache-2.0

package maps_test

import (
	"context"
	"errors"
	"log/slog"
	"os"
	"path/filepath"
	"runtime"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"golang.org/x/sys/unix"

	"github.com/bpfkit/bpfkit/internal/sys"
	"github.com/bpfkit/bpfkit/internal/testutil"
	"github.com/bpfkit/bpfkit/loader"
	"github.com/bpfkit/bpfkit/maps"
)

// val16 is struct val16 of bpf/testdata/maps/bench.bpf.c.
type val16 struct{ A, B uint64 }

// loadBench opens and loads bpf/testdata/maps/bench.bpf.o: two hash maps of 4-byte keys
// and 16-byte values ("small", "big"), a ring buffer and one program: few descriptors,
// so that the next object opened reuses their numbers.
func loadBench(t testing.TB, elf []byte) *loader.Object {
	t.Helper()
	o, err := loader.OpenBytes("bench.bpf.o", elf, nil)
	if err != nil {
		t.Fatal(err)
	}
	if err := o.Load(); err != nil {
		o.Close()
		t.Fatal(err)
	}
	return o
}

// TestCloseWhileInUse is issue 10's first finding: goroutines use a maps.Hash while its
// object is closed and a new object, whose descriptors reuse the old numbers, is opened
// and filled. Every operation must either complete on its own map or fail with
// ErrClosed; none may read from or write to the new object's maps. The rounds go on
// until at least 500,000 operations have been made.
func TestCloseWhileInUse(t *testing.T) {
	testutil.RequirePrivileged(t)
	elf, err := os.ReadFile(filepath.Join("..", "bpf", "testdata", "maps", "bench.bpf.o"))
	if err != nil {
		t.Fatal(err)
	}
	const (
		minOps = 500_000
		// Only the operations in flight when Close runs can race it (a few per round):
		// the rounds, not the operations, make the test able to fail.
		minRounds = 100
		workers   = 6 // more goroutines than CPUs, so that some are descheduled mid-operation
	)
	for _, mode := range []string{"lookup", "update"} {
		t.Run(mode, func(t *testing.T) {
			var total, closed, foreign, wrong atomic.Int64
			var firstWrong atomic.Value
			deadline := time.Now().Add(3 * time.Minute)
			rounds := 0
			for total.Load() < minOps || rounds < minRounds {
				if time.Now().After(deadline) {
					t.Fatalf("only %d operations in 3 minutes", total.Load())
				}
				rounds++
				ownMark := uint64(2*rounds) << 32
				newMark := ownMark | 1
				a := loadBench(t, elf)
				h, err := maps.NewHash[uint32, val16](mustMap(t, a, "small"))
				if err != nil {
					a.Close()
					t.Fatal(err)
				}
				if err := h.Update(1, val16{A: ownMark}, maps.UpdateAny); err != nil {
					a.Close()
					t.Fatal(err)
				}
				var wg sync.WaitGroup
				for range workers {
					wg.Go(func() {
						var v val16
						for {
							var err error
							if mode == "lookup" {
								err = h.LookupInto(1, &v)
							} else {
								err = h.Update(2, val16{A: ownMark}, maps.UpdateAny)
							}
							total.Add(1)
							switch {
							case errors.Is(err, maps.ErrClosed):
								closed.Add(1)
								return
							case err != nil:
								// before Close no error is possible: this operation
								// reached another object's descriptor
								wrong.Add(1)
								firstWrong.CompareAndSwap(nil, err.Error())
							case mode == "lookup" && v.A != ownMark:
								foreign.Add(1)
							}
						}
					})
				}
				time.Sleep(2 * time.Millisecond)
				a.Close()
				b := loadBench(t, elf)
				for _, name := range []string{"small", "big"} {
					hb, err := maps.NewHash[uint32, val16](mustMap(t, b, name))
					if err != nil {
						b.Close()
						t.Fatal(err)
					}
					if err := hb.Update(1, val16{A: newMark}, maps.UpdateAny); err != nil {
						b.Close()
						t.Fatal(err)
					}
				}
				wg.Wait()
				if mode == "update" {
					// key 2 is only ever written by the workers, into the first object
					for _, name := range []string{"small", "big"} {
						hb, _ := maps.NewHash[uint32, val16](mustMap(t, b, name))
						if _, err := hb.Lookup(2); err == nil {
							foreign.Add(1)
						} else if !errors.Is(err, maps.ErrKeyNotExist) {
							t.Fatal(err)
						}
					}
				}
				b.Close()
			}
			t.Logf("%d rounds, %d operations: %d returned ErrClosed, %d reached the next object's map, %d failed with another error",
				rounds, total.Load(), closed.Load(), foreign.Load(), wrong.Load())
			if foreign.Load() != 0 || wrong.Load() != 0 {
				t.Errorf("%d operations (%s) reached the next object's map, %d failed on a descriptor that was not theirs (first: %v)",
					foreign.Load(), mode, wrong.Load(), firstWrong.Load())
			}
		})
	}
}

func mustMap(t testing.TB, o *loader.Object, name string) *loader.Map {
	t.Helper()
	m, err := o.Map(name)
	if err != nil {
		t.Fatal(err)
	}
	return m
}

// openMaps opens and loads maps.bpf.o without registering a cleanup: the tests below
// close it themselves.
func openMaps(t *testing.T) *loader.Object {
	t.Helper()
	testutil.RequirePrivileged(t)
	elf, err := os.ReadFile(objectPath)
	if err != nil {
		t.Fatal(err)
	}
	o, err := loader.OpenBytes("maps.bpf.o", elf, nil)
	if err != nil {
		t.Fatal(err)
	}
	if err := o.Load(); err != nil {
		o.Close()
		t.Fatal(err)
	}
	return o
}

// mapGone waits until no map of this kernel ID exists any more (the kernel frees a map
// from deferred work once its last reference is gone).
func mapGone(t *testing.T, id uint32) bool {
	t.Helper()
	deadline := time.Now().Add(5 * time.Second)
	for {
		fd, err := sys.MapFDByID(id)
		if err != nil {
			return errors.Is(err, unix.ENOENT)
		}
		unix.Close(fd)
		if time.Now().After(deadline) {
			return false
		}
		time.Sleep(10 * time.Millisecond)
	}
}

// TestObjectCloseClosesReaders is issue 10's second finding: readers blocked in Read
// with a context that never ends return ErrClosed promptly when their object is closed,
// and their descriptors and mappings are released, so the kernel maps go away.
func TestObjectCloseClosesReaders(t *testing.T) {
	o := openMaps(t)
	fdsBefore := testutil.OpenFDs(t)
	rbMap, perfMap := mustMap(t, o, "rb"), mustMap(t, o, "perf")
	ids := map[string]uint32{}
	for _, m := range []*loader.Map{rbMap, perfMap} {
		fm, err := maps.FromFD(must[int](t)(m.FD()))
		if err != nil {
			t.Fatal(err)
		}
		ids[m.Name()] = must[uint32](t)(fm.ID())
		fm.Close()
	}
	rb := must[*maps.RingBuf[event]](t)(maps.NewRingBuf[event](rbMap))
	pb := must[*maps.PerfBuf[event]](t)(maps.NewPerfBuf[event](perfMap, 1))

	errs := make(chan error, 2)
	go func() { _, err := rb.Read(context.Background()); errs <- err }()
	go func() { _, err := pb.Read(context.Background()); errs <- err }()
	time.Sleep(50 * time.Millisecond) // let both block in epoll
	start := time.Now()
	if err := o.Close(); err != nil {
		t.Fatal(err)
	}
	for range 2 {
		select {
		case err := <-errs:
			if !errors.Is(err, maps.ErrClosed) {
				t.Errorf("blocked Read returned %v after Object.Close, want ErrClosed", err)
			}
		case <-time.After(2 * time.Second):
			t.Fatal("a blocked Read is still blocked 2s after Object.Close")
		}
	}
	t.Logf("blocked readers returned %v after Close began", time.Since(start))
	if _, err := rb.Read(context.Background()); !errors.Is(err, maps.ErrClosed) {
		t.Errorf("Read after Object.Close: %v", err)
	}
	if err := rb.Close(); err != nil { // already closed by the object: a no-op
		t.Error(err)
	}
	if after := testutil.OpenFDs(t); after > fdsBefore {
		t.Errorf("%d descriptors still open after Object.Close (%d before the readers)", after-fdsBefore, fdsBefore)
	}
	for name, id := range ids {
		if !mapGone(t, id) {
			t.Errorf("map %q (ID %d) still exists 5s after Object.Close: a reader kept it", name, id)
		}
	}
}

// TestFDMapCloseClosesReaders: an FDMap owns the readers made from it as an Object does.
func TestFDMapCloseClosesReaders(t *testing.T) {
	o := testObject(t)
	fm, err := maps.FromFD(must[int](t)(mustMap(t, o, "rb").FD()))
	if err != nil {
		t.Fatal(err)
	}
	rb := must[*maps.RingBuf[event]](t)(maps.NewRingBuf[event](fm))
	done := make(chan error, 1)
	go func() { _, err := rb.Read(context.Background()); done <- err }()
	time.Sleep(20 * time.Millisecond)
	if err := fm.Close(); err != nil {
		t.Fatal(err)
	}
	select {
	case err := <-done:
		if !errors.Is(err, maps.ErrClosed) {
			t.Fatalf("Read returned %v, want ErrClosed", err)
		}
	case <-time.After(2 * time.Second):
		t.Fatal("Read still blocked 2s after FDMap.Close")
	}
	// A reader cannot be made from a closed map.
	_, err = maps.NewRingBuf[event](fm)
	wantErr(t, err, maps.ErrClosed)
}

// TestReaderLeakReported: a reader dropped without Close is reported when it is collected,
// with where it was made, and what it held is released.
func TestReaderLeakReported(t *testing.T) {
	o := testObject(t)
	var buf testutil.SyncBuffer
	prev := slog.Default()
	slog.SetDefault(slog.New(slog.NewTextHandler(&buf, nil)))
	t.Cleanup(func() { slog.SetDefault(prev) })

	fdsBefore := testutil.OpenFDs(t)
	func() {
		if _, err := maps.NewRingBuf[event](mustMap(t, o, "rb")); err != nil {
			t.Fatal(err)
		}
	}()
	deadline := time.Now().Add(5 * time.Second)
	for !strings.Contains(buf.String(), "maps.RingBuf") {
		if time.Now().After(deadline) {
			t.Fatalf("no leak report 5s after the reader became unreachable; log: %q", buf.String())
		}
		runtime.GC()
		time.Sleep(10 * time.Millisecond)
	}
	log := buf.String()
	for _, w := range []string{"garbage collected without Close", `name=rb`, "lifetime_test.go:"} {
		if !strings.Contains(log, w) {
			t.Errorf("leak report %q does not mention %q", log, w)
		}
	}
	if after := testutil.OpenFDs(t); after != fdsBefore {
		t.Errorf("the leaked reader's descriptors were not released: %d before, %d after", fdsBefore, after)
	}
}

// TestAllAfterClose is issue 10 item 5: a walk over a closed map ends with ErrClosed,
// not silently.
func TestAllAfterClose(t *testing.T) {
	o := openMaps(t)
	h := must[*maps.Hash[uint32, plain]](t)(maps.NewHash[uint32, plain](mustMap(t, o, "h_plain")))
	for k := range uint32(3) {
		if err := h.Update(k, plain{A: uint64(k)}, maps.UpdateAny); err != nil {
			t.Fatal(err)
		}
	}
	// Closing the object from inside the loop: the walk does not hold the descriptor
	// while the body runs, so Close does not wait for the loop, and the walk stops.
	seen := 0
	var last error
	for _, err := range h.All() {
		if err != nil {
			last = err
			break
		}
		seen++
		if seen == 1 {
			if err := o.Close(); err != nil {
				t.Fatal(err)
			}
		}
	}
	if seen != 1 || !errors.Is(last, maps.ErrClosed) {
		t.Fatalf("walk closed in its body: %d entries, then %v; want 1 entry, then ErrClosed", seen, last)
	}
	n := 0
	for _, err := range h.All() {
		n++
		if !errors.Is(err, maps.ErrClosed) {
			t.Fatalf("All after Close yielded %v, want ErrClosed", err)
		}
	}
	if n != 1 {
		t.Fatalf("All after Close yielded %d times, want once (the error)", n)
	}
	it := h.Iterate()
	for range it.Keys() {
		t.Fatal("Keys after Close yielded a key")
	}
	wantErr(t, it.Err(), maps.ErrClosed)
}
