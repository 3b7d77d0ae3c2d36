// SPDX-License-Identifier: Apache-2.0

package loader_test

import (
	"errors"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/bpfkit/bpfkit/internal/testutil"
	"github.com/bpfkit/bpfkit/loader"
)

// TestProgramUseWhileClosing is maps' TestCloseWhileInUse for programs: goroutines test-run
// a program while its object closes and a second object, whose descriptors reuse the
// first's numbers, is loaded. Every run must either happen on its own program or fail with
// ErrClosed: the second object's program, which counts its runs in .bss, must never run.
func TestProgramUseWhileClosing(t *testing.T) {
	testutil.RequirePrivileged(t)
	elf := testObject(t, "globals.bpf.o")
	const (
		minRuns   = 100_000
		minRounds = 200
		workers   = 6 // more goroutines than CPUs, so that some are descheduled mid-call
	)
	loadOne := func() *loader.Object {
		t.Helper()
		obj, err := loader.OpenBytes("globals.bpf.o", elf, nil)
		if err != nil {
			t.Fatal(err)
		}
		if err := obj.Load(); err != nil {
			obj.Close()
			t.Fatal(err)
		}
		return obj
	}
	var total, closed, wrong atomic.Int64
	var firstWrong atomic.Value
	rounds, foreignRuns := 0, uint64(0)
	deadline := time.Now().Add(2 * time.Minute)
	for total.Load() < minRuns || rounds < minRounds {
		if time.Now().After(deadline) {
			t.Fatalf("only %d runs in 2 minutes", total.Load())
		}
		rounds++
		a := loadOne()
		prog, err := a.Program("snapshot")
		if err != nil {
			a.Close()
			t.Fatal(err)
		}
		var wg sync.WaitGroup
		for range workers {
			wg.Go(func() {
				for {
					_, err := prog.Test(nil)
					total.Add(1)
					switch {
					case errors.Is(err, loader.ErrClosed):
						closed.Add(1)
						return
					case err != nil:
						wrong.Add(1)
						firstWrong.CompareAndSwap(nil, err.Error())
						return
					}
				}
			})
		}
		time.Sleep(2 * time.Millisecond)
		if err := a.Close(); err != nil {
			t.Fatal(err)
		}
		b := loadOne()
		wg.Wait()
		var runs uint64
		err = b.Global("counter", &runs)
		b.Close()
		if err != nil {
			t.Fatal(err)
		}
		foreignRuns += runs
	}
	if foreignRuns != 0 || wrong.Load() != 0 {
		t.Fatalf("%d runs of the second object's program, %d other errors (first: %v) in %d runs over %d rounds",
			foreignRuns, wrong.Load(), firstWrong.Load(), total.Load(), rounds)
	}
	if closed.Load() < int64(rounds) {
		t.Fatalf("only %d runs ended with ErrClosed over %d rounds: Close did not race with the runs", closed.Load(), rounds)
	}
	t.Logf("%d runs in %d rounds, %d ended with ErrClosed, none on the other object", total.Load(), rounds, closed.Load())
}
