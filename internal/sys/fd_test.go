// SPDX-License-Identifier: Apache-2.0

package sys

import (
	"errors"
	"io"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"golang.org/x/sys/unix"
)

func pipeFD(t *testing.T) (*FD, int) {
	t.Helper()
	var p [2]int
	if err := unix.Pipe2(p[:], unix.O_CLOEXEC); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { unix.Close(p[1]) })
	return NewFD(p[0]), p[0]
}

func TestFDCloseWaitsForOperations(t *testing.T) {
	f, raw := pipeFD(t)
	fd, ok := f.Acquire()
	if !ok || fd != raw {
		t.Fatalf("Acquire = %d, %v", fd, ok)
	}
	closed := make(chan struct{})
	go func() { f.Close(); close(closed) }()
	// Close has marked the FD: no new operation starts, but the one in flight holds it.
	deadline := time.Now().Add(time.Second)
	for !f.Closed() {
		if time.Now().After(deadline) {
			t.Fatal("Close did not mark the FD")
		}
		time.Sleep(time.Millisecond)
	}
	if _, ok := f.Acquire(); ok {
		t.Fatal("Acquire succeeded on a closing FD")
	}
	select {
	case <-closed:
		t.Fatal("Close returned while an operation was in flight")
	case <-time.After(50 * time.Millisecond):
	}
	if _, err := unix.FcntlInt(uintptr(raw), unix.F_GETFD, 0); err != nil {
		t.Fatalf("descriptor closed under an operation: %v", err)
	}
	f.Release()
	select {
	case <-closed:
	case <-time.After(time.Second):
		t.Fatal("Close did not return after the last Release")
	}
	if _, err := unix.FcntlInt(uintptr(raw), unix.F_GETFD, 0); !errors.Is(err, unix.EBADF) {
		t.Fatalf("descriptor still open after Close: %v", err)
	}
	if err := f.Close(); err != nil {
		t.Fatalf("second Close: %v", err)
	}
}

// TestFDConcurrent hammers Acquire/Release from several goroutines while Close runs:
// after Close returns no Acquire succeeds, and no operation ever saw a closed number.
func TestFDConcurrent(t *testing.T) {
	for range 10 {
		f, raw := pipeFD(t)
		var stop atomic.Bool
		var bad atomic.Int64
		var wg sync.WaitGroup
		for range 4 {
			wg.Go(func() {
				for !stop.Load() {
					fd, ok := f.Acquire()
					if !ok {
						continue
					}
					if _, err := unix.FcntlInt(uintptr(fd), unix.F_GETFD, 0); err != nil {
						bad.Add(1)
					}
					f.Release()
				}
			})
		}
		time.Sleep(time.Millisecond)
		f.Close()
		if _, ok := f.Acquire(); ok {
			t.Fatal("Acquire after Close succeeded")
		}
		stop.Store(true)
		wg.Wait()
		if bad.Load() != 0 {
			t.Fatalf("%d operations ran on the closed descriptor %d", bad.Load(), raw)
		}
	}
}

type closer struct{ n *atomic.Int64 }

func (c closer) Close() error { c.n.Add(1); return nil }

func TestFDDependents(t *testing.T) {
	f, _ := pipeFD(t)
	var closes atomic.Int64
	var usedFD atomic.Bool
	_, _ = f.AddDependent(func() io.Closer { return nil }) // collected: pruned by the next AddDependent
	remove, ok := f.AddDependent(func() io.Closer { return closer{&closes} })
	if !ok {
		t.Fatal("AddDependent on an open FD failed")
	}
	_, ok = f.AddDependent(func() io.Closer {
		// a dependent's Close may still use the descriptor
		if _, ok := f.Acquire(); ok {
			usedFD.Store(true)
			f.Release()
		}
		return closer{&closes}
	})
	if !ok {
		t.Fatal("second AddDependent failed")
	}
	if n := f.Dependents(); n != 2 {
		t.Fatalf("%d dependents registered, want 2 (the collected one pruned)", n)
	}
	remove()
	remove2, _ := f.AddDependent(func() io.Closer { return closer{&closes} })
	_ = remove2
	f.Close()
	if closes.Load() != 2 || !usedFD.Load() {
		t.Fatalf("Close closed %d dependents (want 2), descriptor usable to them: %v", closes.Load(), usedFD.Load())
	}
	if _, ok := f.AddDependent(func() io.Closer { return nil }); ok {
		t.Fatal("AddDependent on a closed FD succeeded")
	}
}

func TestBorrowedFDIsNotClosed(t *testing.T) {
	var p [2]int
	if err := unix.Pipe2(p[:], unix.O_CLOEXEC); err != nil {
		t.Fatal(err)
	}
	defer unix.Close(p[0])
	defer unix.Close(p[1])
	f := BorrowFD(p[0])
	f.Close()
	if _, ok := f.Acquire(); ok {
		t.Fatal("Acquire after Close")
	}
	if _, err := unix.FcntlInt(uintptr(p[0]), unix.F_GETFD, 0); err != nil {
		t.Fatalf("a borrowed descriptor was closed: %v", err)
	}
}

func TestSlot(t *testing.T) {
	var s Slot
	want := errors.New("not loaded")
	s.Init(func() error { return want })
	if _, err := s.FD(); err != want || s.Load() != nil {
		t.Fatalf("empty slot: %v", err)
	}
	f, _ := pipeFD(t)
	s.Set(f)
	if got, err := s.FD(); got != f || err != nil {
		t.Fatalf("FD() = %v, %v", got, err)
	}
	var o Owner = &s
	if SlotOf(o) != &s {
		t.Fatal("SlotOf")
	}
	f.Close()
}

func BenchmarkAcquireRelease(b *testing.B) {
	f := BorrowFD(0)
	b.ReportAllocs()
	for b.Loop() {
		if _, ok := f.Acquire(); ok {
			f.Release()
		}
	}
}
