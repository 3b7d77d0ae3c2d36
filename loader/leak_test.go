// SPDX-License-Identifier: Apache-2.0

package loader_test

import (
	"os"
	"testing"
	"time"

	"github.com/bpfkit/bpfkit/bpf"
	"github.com/bpfkit/bpfkit/loader"
)

// TestNoLeaksOver200Cycles runs the whole lifecycle 200 times and checks that the
// process's open fds are as they were and that none of the 200 programs it loaded is
// still in the kernel. (Other processes may load programs meanwhile, so the test
// follows its own programs by ID rather than counting the kernel's.)
func TestNoLeaksOver200Cycles(t *testing.T) {
	open(t, "minimal.bpf.o", bpf.Minimal, nil).Close() // privilege check, warm-up

	fdsBefore := openFDs(t)
	var ids []uint32
	for i := range 200 {
		obj, err := loader.OpenBytes("minimal.bpf.o", bpf.Minimal, nil)
		if err != nil {
			t.Fatalf("cycle %d: open: %v", i, err)
		}
		if err := obj.SetGlobal("my_pid", int32(os.Getpid())); err != nil {
			t.Fatalf("cycle %d: %v", i, err)
		}
		if err := obj.Load(); err != nil {
			t.Fatalf("cycle %d: load: %v", i, err)
		}
		if err := obj.Attach(); err != nil {
			t.Fatalf("cycle %d: attach: %v", i, err)
		}
		var pid int32
		if err := obj.Global("my_pid", &pid); err != nil { // maps the .bss too
			t.Fatalf("cycle %d: %v", i, err)
		}
		p, _ := obj.Program("handle_tp")
		fd, err := p.FD()
		if err != nil {
			t.Fatal(err)
		}
		ids = append(ids, programID(t, fd))
		if err := obj.Close(); err != nil {
			t.Fatalf("cycle %d: close: %v", i, err)
		}
	}
	if after := openFDs(t); after != fdsBefore {
		t.Errorf("open fds: %d before, %d after 200 cycles", fdsBefore, after)
	}
	// The kernel frees a program when its last reference goes; a perf-event link may
	// drop its reference from deferred work, so allow it a moment.
	deadline := time.Now().Add(5 * time.Second)
	for _, id := range ids {
		for programExists(t, id) {
			if time.Now().After(deadline) {
				t.Fatalf("program ID %d is still loaded 5s after its object was closed", id)
			}
			time.Sleep(10 * time.Millisecond)
		}
	}
}

// TestNoLeakOnFailedLoad: an object whose load fails releases its maps and fds.
func TestNoLeakOnFailedLoad(t *testing.T) {
	elf := testObject(t, "verifier.bpf.o")
	open(t, "verifier.bpf.o", elf, nil).Close()
	fdsBefore := openFDs(t)
	for range 20 {
		obj, err := loader.OpenBytes("verifier.bpf.o", elf, &loader.Options{Logger: discardLogger()})
		if err != nil {
			t.Fatal(err)
		}
		if err := obj.Load(); err == nil {
			t.Fatal("load of a rejected program succeeded")
		}
		if err := obj.Close(); err != nil {
			t.Fatal(err)
		}
	}
	if after := openFDs(t); after != fdsBefore {
		t.Errorf("open fds: %d before, %d after 20 failed loads", fdsBefore, after)
	}
}
