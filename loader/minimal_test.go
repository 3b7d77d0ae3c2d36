// SPDX-License-Identifier: Apache-2.0

package loader_test

import (
	"context"
	"errors"
	"fmt"
	"os"
	"testing"
	"time"

	"github.com/bpfkit/bpfkit/bpf"
	"github.com/bpfkit/bpfkit/loader/tracepipe"
)

// traceInstance opens a private tracefs instance, so that tests running at the same
// time (other packages) do not consume each other's bpf_printk lines.
func traceInstance(t *testing.T) *tracepipe.Pipe {
	t.Helper()
	tp, err := tracepipe.Open(&tracepipe.Options{Instance: "loader-test"})
	if err != nil {
		t.Fatalf("tracepipe.Open: %v", err)
	}
	t.Cleanup(func() { _ = tp.Close() })
	return tp
}

// openDevNull gives the tests a file to write() to without printing anything.
func openDevNull(t *testing.T) *os.File {
	f, err := os.OpenFile(os.DevNull, os.O_WRONLY, 0)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = f.Close() })
	return f
}

// TestMinimalEndToEnd runs libbpf's minimal program: set my_pid, load, attach, write,
// and read the program's bpf_printk line back with this process's PID.
func TestMinimalEndToEnd(t *testing.T) {
	obj := open(t, "minimal.bpf.o", bpf.Minimal, nil)
	tp := traceInstance(t)

	pid := os.Getpid()
	if err := obj.SetGlobal("my_pid", int32(pid)); err != nil {
		t.Fatal(err)
	}
	if err := obj.Load(); err != nil {
		t.Fatal(err)
	}
	if err := obj.Attach(); err != nil {
		t.Fatal(err)
	}
	if n := len(obj.Links()); n != 1 {
		t.Fatalf("Attach made %d links, want 1 (handle_tp)", n)
	}

	want := fmt.Sprintf("BPF triggered from PID %d.", pid)
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	devNull := openDevNull(t)
	go func() { // keep calling write() until the record arrives
		for ctx.Err() == nil {
			_, _ = devNull.Write([]byte("."))
			time.Sleep(50 * time.Millisecond)
		}
	}()
	for {
		r, err := tp.Read(ctx)
		if err != nil {
			t.Fatalf("no trace record %q within 5s: %v", want, err)
		}
		if r.Message != want {
			continue // another program's bpf_printk
		}
		// The record's PID column is the writing thread: one of this process's.
		if _, err := os.Stat(fmt.Sprintf("/proc/%d/task/%d", pid, r.PID)); err != nil || r.Event != "bpf_trace_printk" {
			t.Fatalf("record %+v: want a thread of process %d and event bpf_trace_printk", r, pid)
		}
		return
	}
}

// TestMinimalFiltersOtherPIDs shows that the program only reacts to my_pid: with
// my_pid set to a PID that is not ours, our writes leave no record.
func TestMinimalFiltersOtherPIDs(t *testing.T) {
	obj := open(t, "minimal.bpf.o", bpf.Minimal, nil)
	tp := traceInstance(t)
	if err := obj.SetGlobal("my_pid", int32(1)); err != nil { // init never writes here
		t.Fatal(err)
	}
	if err := obj.Load(); err != nil {
		t.Fatal(err)
	}
	if err := obj.Attach(); err != nil {
		t.Fatal(err)
	}
	devNull := openDevNull(t)
	for range 5 {
		_, _ = devNull.Write([]byte("."))
	}
	ctx, cancel := context.WithTimeout(context.Background(), 500*time.Millisecond)
	defer cancel()
	want := fmt.Sprintf("BPF triggered from PID %d.", os.Getpid())
	for {
		r, err := tp.Read(ctx)
		if errors.Is(err, context.DeadlineExceeded) {
			return // nothing from us until the deadline: the filter works
		}
		if err != nil {
			t.Fatalf("Read: %v, want the context's deadline", err)
		}
		if r.Message == want {
			t.Fatalf("got %q although my_pid is 1", r.Raw)
		}
	}
}
