// SPDX-License-Identifier: Apache-2.0

package loader_test

import (
	"log/slog"
	"os"
	"path/filepath"
	"runtime"
	"strings"
	"testing"
	"time"

	"github.com/bpfkit/bpfkit/bpf"
	"github.com/bpfkit/bpfkit/internal/testutil"
	"github.com/bpfkit/bpfkit/loader"
)

// TestNoLeaksOver200Cycles runs the whole lifecycle 200 times and checks that nothing
// of it outlives Close: the process's open fds and its mappings of BPF maps are as they
// were, and none of the 200 programs, of their maps or of their links is still in the
// kernel. (Other processes may load programs meanwhile, so the test follows its own
// objects by ID rather than counting the kernel's.) Each cycle also checks that the
// counts it compares move while the object is open, so that they can catch a leak.
func TestNoLeaksOver200Cycles(t *testing.T) {
	open(t, "minimal.bpf.o", bpf.Minimal, nil).Close() // privilege check, warm-up

	fdsBefore, mappingsBefore := testutil.OpenFDs(t), bpfMappings(t)
	var progs, maps, links []uint32
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
		progs = append(progs, programID(t, fd))
		if len(obj.Maps()) == 0 {
			t.Fatalf("cycle %d: the object has no maps", i)
		}
		for _, m := range obj.Maps() {
			fd, err := m.FD()
			if err != nil {
				t.Fatalf("cycle %d: map %s: %v", i, m.Name(), err)
			}
			maps = append(maps, mapID(t, fd))
		}
		if len(obj.Links()) != 1 {
			t.Fatalf("cycle %d: %d links, want 1", i, len(obj.Links()))
		}
		for _, l := range obj.Links() {
			info, err := l.Info()
			if err != nil || info.ID == 0 {
				t.Fatalf("cycle %d: link info: %+v, %v", i, info, err)
			}
			links = append(links, info.ID)
		}
		if i == 0 {
			if n := bpfMappings(t); n <= mappingsBefore {
				t.Fatalf("with the .bss mapped, %d mappings of BPF maps (%d before): the count cannot see a leak", n, mappingsBefore)
			}
			if n := testutil.OpenFDs(t); n <= fdsBefore {
				t.Fatalf("with an object loaded, %d open fds (%d before): the count cannot see a leak", n, fdsBefore)
			}
		}
		if err := obj.Close(); err != nil {
			t.Fatalf("cycle %d: close: %v", i, err)
		}
	}
	if after := testutil.OpenFDs(t); after != fdsBefore {
		t.Errorf("open fds: %d before, %d after 200 cycles", fdsBefore, after)
	}
	if after := bpfMappings(t); after != mappingsBefore {
		t.Errorf("mappings of BPF maps: %d before, %d after 200 cycles", mappingsBefore, after)
	}
	// The kernel frees a program, map or link when its last reference goes; a
	// perf-event link may drop its reference from deferred work, so allow a moment.
	deadline := time.Now().Add(5 * time.Second)
	for _, kind := range []struct {
		what   string
		ids    []uint32
		exists func(testing.TB, uint32) bool
	}{
		{"link", links, linkExists},
		{"program", progs, programExists},
		{"map", maps, mapExists},
	} {
		for _, id := range kind.ids {
			for kind.exists(t, id) {
				if time.Now().After(deadline) {
					t.Fatalf("%s ID %d is still in the kernel 5s after its object was closed", kind.what, id)
				}
				time.Sleep(10 * time.Millisecond)
			}
		}
	}
	t.Logf("%d programs, %d maps and %d links created and freed; fds %d, mappings %d", len(progs), len(maps), len(links), fdsBefore, mappingsBefore)
}

// TestNoLeakOnFailedLoad: an object whose load fails releases its maps and fds.
func TestNoLeakOnFailedLoad(t *testing.T) {
	elf := testObject(t, "verifier.bpf.o")
	open(t, "verifier.bpf.o", elf, nil).Close()
	fdsBefore, mappingsBefore := testutil.OpenFDs(t), bpfMappings(t)
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
	if after := testutil.OpenFDs(t); after != fdsBefore {
		t.Errorf("open fds: %d before, %d after 20 failed loads", fdsBefore, after)
	}
	if after := bpfMappings(t); after != mappingsBefore {
		t.Errorf("mappings of BPF maps: %d before, %d after 20 failed loads", mappingsBefore, after)
	}
}

// TestOpenHoldsNoFD: an object that is only opened, from OpenBytes or from Open(path),
// holds no descriptor of its file (libbpf opens a C copy of the bytes,
// docs/ARCHITECTURE.md), only libbpf's placeholder descriptor of each of its maps, and
// Close frees those.
func TestOpenHoldsNoFD(t *testing.T) {
	path := filepath.Join("..", "bpf", "minimal.bpf.o")
	if o, err := loader.Open(path, nil); err != nil { // warm-up
		t.Fatal(err)
	} else {
		o.Close()
	}
	const placeholder = "/memfd:libbpf-placeholder-fd"
	before := fdTargets(t)
	var objs []*loader.Object
	maps := 0
	for i := range 20 {
		var o *loader.Object
		var err error
		if i%2 == 0 {
			o, err = loader.OpenBytes("minimal.bpf.o", bpf.Minimal, nil)
		} else {
			o, err = loader.Open(path, nil)
		}
		if err != nil {
			t.Fatal(err)
		}
		objs = append(objs, o)
		maps += len(o.Maps())
	}
	held := 0
	for fd, target := range fdTargets(t) {
		if _, ok := before[fd]; ok {
			continue
		}
		if !strings.HasPrefix(target, placeholder) {
			t.Errorf("an open object holds fd %s: %s", fd, target)
		}
		held++
	}
	if held != maps {
		t.Errorf("20 open objects with %d maps hold %d placeholder descriptors", maps, held)
	}
	for _, o := range objs {
		if err := o.Close(); err != nil {
			t.Fatal(err)
		}
	}
	if after := fdTargets(t); len(after) != len(before) {
		t.Errorf("open fds: %d before, %d after closing 20 objects: %v", len(before), len(after), after)
	}
}

// fdTargets returns the process's open descriptors and what each refers to.
func fdTargets(t *testing.T) map[string]string {
	t.Helper()
	ents, err := os.ReadDir("/proc/self/fd")
	if err != nil {
		t.Fatal(err)
	}
	fds := map[string]string{}
	for _, e := range ents {
		target, err := os.Readlink(filepath.Join("/proc/self/fd", e.Name()))
		if err == nil { // ReadDir's own is closed by now
			fds[e.Name()] = target
		}
	}
	return fds
}

// TestLeakedObjectReported: an Object dropped without Close is reported when it is
// collected, with its name and where it was opened (docs/ARCHITECTURE.md: a leak
// detector, which frees nothing); a closed one is not.
func TestLeakedObjectReported(t *testing.T) {
	var buf testutil.SyncBuffer
	prev := slog.Default()
	slog.SetDefault(slog.New(slog.NewTextHandler(&buf, nil)))
	t.Cleanup(func() { slog.SetDefault(prev) })

	func() {
		closed, err := loader.OpenBytes("closed.bpf.o", bpf.Minimal, nil)
		if err != nil {
			t.Fatal(err)
		}
		closed.Close()
		if _, err := loader.OpenBytes("leaked.bpf.o", bpf.Minimal, nil); err != nil {
			t.Fatal(err)
		}
	}()
	deadline := time.Now().Add(5 * time.Second)
	for !strings.Contains(buf.String(), "leaked.bpf.o") {
		if time.Now().After(deadline) {
			t.Fatalf("no leak report 5s after the Object became unreachable; log: %q", buf.String())
		}
		runtime.GC()
		time.Sleep(10 * time.Millisecond)
	}
	runtime.GC() // the closed one was unreachable as early: give it the same chance
	time.Sleep(50 * time.Millisecond)
	log := buf.String()
	for _, w := range []string{"a loader.Object was garbage collected without Close", "name=leaked.bpf.o", "leak_test.go:"} {
		if !strings.Contains(log, w) {
			t.Errorf("leak report %q lacks %q", log, w)
		}
	}
	if strings.Contains(log, "closed.bpf.o") {
		t.Errorf("a closed Object was reported: %q", log)
	}
}
