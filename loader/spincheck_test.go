// SPDX-License-Identifier: Apache-2.0

package loader_test

import (
	"bytes"
	"errors"
	"log/slog"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/cilium/ebpf"
	"golang.org/x/sys/unix"

	"github.com/bpfkit/bpfkit/bpf"
	"github.com/bpfkit/bpfkit/loader"
	"github.com/bpfkit/bpfkit/spinlock"
)

// openOnly opens an object of the spin-lock corpus with only the program keep set to
// load.
func openOnly(t *testing.T, object, keep string, opts *loader.Options) *loader.Object {
	t.Helper()
	elf, err := os.ReadFile(filepath.Join("..", "bpf", "testdata", "spinlock", object))
	if err != nil {
		t.Fatal(err)
	}
	obj := open(t, object, elf, opts)
	found := false
	for _, p := range obj.Programs() {
		if err := p.SetAutoload(p.Name() == keep); err != nil {
			t.Fatal(err)
		}
		found = found || p.Name() == keep
	}
	if !found {
		t.Fatalf("%s has no program %s", object, keep)
	}
	return obj
}

// TestLoadRunsSpinLockCheck: a tracepoint that uses a lock-holding map is stopped
// before anything reaches the kernel, with the rule, program and map; with the check
// off the kernel refuses it in the same words, and the VerifierError names the rule.
func TestLoadRunsSpinLockCheck(t *testing.T) {
	obj := openOnly(t, "p_progtype.bpf.o", "tp_lock", nil)
	err := obj.Load()
	var se *spinlock.Error
	if !errors.As(err, &se) {
		t.Fatalf("Load = %v, want *spinlock.Error", err)
	}
	if len(se.Findings) == 0 || se.Findings[0].Rule != "P2" || se.Findings[0].Program != "tp_lock" || se.Findings[0].Map != "locked" {
		t.Fatalf("findings %+v, want P2 on tp_lock and map locked", se.Findings)
	}
	for _, m := range obj.Maps() {
		if _, err := m.FD(); !errors.Is(err, loader.ErrNotLoaded) {
			t.Fatalf("map %s exists after a refused check: %v", m.Name(), err)
		}
	}
	// The check stopped Load before the kernel: a second try (the user may fix the
	// object's autoload) is allowed, and is checked again.
	err = obj.Load()
	if errors.Is(err, loader.ErrAlreadyLoaded) {
		t.Fatalf("a Load stopped by the check counted as loaded")
	}
	if se = nil; !errors.As(err, &se) || len(se.Findings) == 0 || se.Findings[0].Rule != "P2" {
		t.Fatalf("second Load = %v, want the check's *spinlock.Error with P2 again", err)
	}
	if miss := missingWords(err.Error(), "tp_lock", "p_progtype.bpf.o", "P2"); len(miss) > 0 {
		t.Fatalf("error %q lacks %q", err, miss)
	}

	for _, mode := range []spinlock.Mode{spinlock.Off, spinlock.Warn} {
		var logs bytes.Buffer
		opts := &loader.Options{Preflight: spinlock.Preflight{Mode: mode}, Logger: slog.New(slog.NewTextHandler(&logs, nil))}
		obj := openOnly(t, "p_progtype.bpf.o", "tp_lock", opts)
		err := obj.Load()
		var ve *loader.VerifierError
		if !errors.As(err, &ve) {
			t.Fatalf("mode %d: Load = %v, want the kernel's *VerifierError", mode, err)
		}
		if ve.Rule != "P2" || ve.Program != "tp_lock" || !strings.Contains(ve.Message, "tracing progs cannot use bpf_spin_lock yet") {
			t.Fatalf("mode %d: program %q rule %q message %q", mode, ve.Program, ve.Rule, ve.Message)
		}
		if !errors.Is(err, unix.EINVAL) {
			t.Fatalf("mode %d: %v does not unwrap to the kernel's EINVAL", mode, err)
		}
		if errors.As(err, &se) {
			t.Fatalf("mode %d: the check stopped the load: %v", mode, err)
		}
		warned := strings.Contains(logs.String(), "P2")
		if warned != (mode == spinlock.Warn) {
			t.Fatalf("mode %d: warning logged = %v; logs:\n%s", mode, warned, logs.String())
		}
	}
}

// TestSpinLockCheckIgnoresProgramsNotLoaded: findings about a program whose autoload
// is off do not stop the others.
func TestSpinLockCheckIgnoresProgramsNotLoaded(t *testing.T) {
	obj := openOnly(t, "p_progtype.bpf.o", "xdp_lock", nil)
	if err := obj.Load(); err != nil {
		t.Fatalf("loading only xdp_lock (tp_lock off): %v", err)
	}
}

// TestCheckIncomplete: where the spin-lock check cannot vouch for an object (a kernel
// outside the versions its rules were checked against; a program whose section names no
// type), Load logs it as a warning, and in strict mode refuses to load, naming it.
func TestCheckIncomplete(t *testing.T) {
	old := spinlock.Version{Major: 4, Minor: 19}

	var logs strings.Builder
	obj := open(t, "minimal.bpf.o", bpf.Minimal, &loader.Options{Preflight: spinlock.Preflight{Kernel: old}, Logger: textLogger(&logs)})
	load(t, obj)
	if miss := missingWords(logs.String(), "level=WARN", "spin-lock check incomplete", "4.19"); len(miss) > 0 {
		t.Errorf("enforcing with kernel 4.19: the log lacks %q:\n%s", miss, logs.String())
	}

	obj = open(t, "minimal.bpf.o", bpf.Minimal, &loader.Options{Preflight: spinlock.Preflight{Kernel: old, Mode: spinlock.Strict}})
	err := obj.Load()
	var ie *spinlock.IncompleteError
	if !errors.As(err, &ie) || len(ie.Incomplete) != 1 || !strings.Contains(err.Error(), "4.19") || !strings.Contains(err.Error(), "strict") || !strings.Contains(err.Error(), "minimal.bpf.o") {
		t.Fatalf("strict with kernel 4.19: %v, want a *spinlock.IncompleteError naming the object and kernel", err)
	}
	if _, err := mapOf(t, obj, ".bss").FD(); !errors.Is(err, loader.ErrNotLoaded) {
		t.Errorf("a map exists after the strict check refused the load: %v", err)
	}

	// A program whose section names no type: a note, until SetType gives it one.
	elf := testObject(t, "lockhook.bpf.o")
	obj = open(t, "lockhook.bpf.o", elf, &loader.Options{Preflight: spinlock.Preflight{Mode: spinlock.Strict}})
	err = obj.Load()
	if !errors.As(err, &ie) || len(ie.Notes) != 1 || !strings.Contains(ie.Notes[0], `"lock_hook"`) || !strings.Contains(err.Error(), "note: ") {
		t.Fatalf("strict on a program without a type: %v, want a *spinlock.IncompleteError with a note on lock_hook", err)
	}
	obj = open(t, "lockhook.bpf.o", elf, &loader.Options{Preflight: spinlock.Preflight{Mode: spinlock.Strict}})
	if err := progOf(t, obj, "lock_hook").SetType(ebpf.XDP); err != nil {
		t.Fatal(err)
	}
	load(t, obj)
	if res, err := progOf(t, obj, "lock_hook").Test(&loader.TestOptions{Data: make([]byte, 64)}); err != nil || res.Retval != 2 {
		t.Fatalf("lock_hook typed XDP by hand: %+v, %v, want XDP_PASS", res, err)
	}

	// A program that will not load is not the check's business.
	obj = open(t, "lockhook.bpf.o", elf, &loader.Options{Preflight: spinlock.Preflight{Mode: spinlock.Strict}})
	if err := progOf(t, obj, "lock_hook").SetAutoload(false); err != nil {
		t.Fatal(err)
	}
	load(t, obj)

	// Not strict: the note is a warning, and libbpf's refusal follows.
	logs.Reset()
	obj = open(t, "lockhook.bpf.o", elf, &loader.Options{Logger: textLogger(&logs)})
	var le *loader.LoadError
	if err := obj.Load(); !errors.As(err, &le) || le.Program != "lock_hook" {
		t.Fatalf("enforcing on a program without a type: %v, want libbpf's *LoadError", err)
	}
	if miss := missingWords(logs.String(), "level=WARN", "spin-lock check incomplete", "lock_hook", "names no program type"); len(miss) > 0 {
		t.Errorf("the log lacks %q:\n%s", miss, logs.String())
	}
}
