// SPDX-License-Identifier: Apache-2.0

package loader_test

import (
	"errors"
	"os"
	"strings"
	"syscall"
	"testing"

	"github.com/bpfkit/bpfkit/bpf"
	"github.com/bpfkit/bpfkit/loader"
)

// TestLifecycleMisuse drives an object through the calls a user gets wrong and checks
// each returns the sentinel that says so, naming what exists where relevant.
func TestLifecycleMisuse(t *testing.T) {
	tests := []struct {
		name   string
		setup  func(*testing.T, *loader.Object) // brings the object to the state under test
		call   func(*loader.Object) error
		is     error
		inText []string
	}{
		{
			name: "attach before load",
			call: func(o *loader.Object) error { return o.Attach() },
			is:   loader.ErrNotLoaded,
		},
		{
			name: "program attach before load",
			call: func(o *loader.Object) error {
				p, _ := o.Program("handle_tp")
				_, err := p.Attach()
				return err
			},
			is: loader.ErrNotLoaded,
		},
		{
			name: "program fd before load",
			call: func(o *loader.Object) error {
				p, _ := o.Program("handle_tp")
				_, err := p.FD()
				return err
			},
			is: loader.ErrNotLoaded,
		},
		{
			name: "map fd before load",
			call: func(o *loader.Object) error {
				m, _ := o.Map(".bss")
				_, err := m.FD()
				return err
			},
			is: loader.ErrNotLoaded,
		},
		{
			name:  "load twice",
			setup: load,
			call:  func(o *loader.Object) error { return o.Load() },
			is:    loader.ErrAlreadyLoaded,
		},
		{
			name:  "autoload after load",
			setup: load,
			call: func(o *loader.Object) error {
				p, _ := o.Program("handle_tp")
				return p.SetAutoload(false)
			},
			is: loader.ErrAlreadyLoaded,
		},
		{
			name:  "max entries after load",
			setup: load,
			call: func(o *loader.Object) error {
				m, _ := o.Map(".bss")
				return m.SetMaxEntries(4)
			},
			is: loader.ErrAlreadyLoaded,
		},
		{
			name:   "unknown program",
			call:   func(o *loader.Object) error { _, err := o.Program("nope"); return err },
			is:     loader.ErrNotFound,
			inText: []string{`"nope"`, "handle_tp", "minimal.bpf.o"},
		},
		{
			name:   "unknown map",
			call:   func(o *loader.Object) error { _, err := o.Map("nope"); return err },
			is:     loader.ErrNotFound,
			inText: []string{`"nope"`, "minimal.bss", "minimal.rodata"},
		},
		{
			name:   "unknown global",
			call:   func(o *loader.Object) error { return o.SetGlobal("nope", int32(1)) },
			is:     loader.ErrNotFound,
			inText: []string{`"nope"`, "my_pid"},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			obj := open(t, "minimal.bpf.o", bpf.Minimal, nil)
			if tt.setup != nil {
				tt.setup(t, obj)
			}
			err := tt.call(obj)
			if !errors.Is(err, tt.is) {
				t.Fatalf("got %v, want an error wrapping %v", err, tt.is)
			}
			if miss := missingWords(err.Error(), tt.inText...); len(miss) > 0 {
				t.Fatalf("error %q lacks %q", err, miss)
			}
		})
	}
}

func load(t *testing.T, o *loader.Object) {
	t.Helper()
	if err := o.Load(); err != nil {
		t.Fatal(err)
	}
}

// TestCloseTwiceAndUseAfterClose: Close is idempotent and nil-safe, and every handle
// of a closed object returns ErrClosed instead of touching freed libbpf memory.
func TestCloseTwiceAndUseAfterClose(t *testing.T) {
	obj := open(t, "minimal.bpf.o", bpf.Minimal, nil)
	load(t, obj)
	if err := obj.Attach(); err != nil {
		t.Fatal(err)
	}
	prog, err := obj.Program("handle_tp")
	if err != nil {
		t.Fatal(err)
	}
	m, err := obj.Map(".bss")
	if err != nil {
		t.Fatal(err)
	}
	link := obj.Links()[0]

	if err := obj.Close(); err != nil {
		t.Fatalf("first Close: %v", err)
	}
	if err := obj.Close(); err != nil {
		t.Fatalf("second Close: %v", err)
	}
	if err := (*loader.Object)(nil).Close(); err != nil {
		t.Fatalf("nil Close: %v", err)
	}
	if err := link.Close(); err != nil {
		t.Fatalf("Close of a link its object already destroyed: %v", err)
	}

	var v int32
	calls := map[string]error{
		"Load":              obj.Load(),
		"Attach":            obj.Attach(),
		"Program":           second(obj.Program("handle_tp")),
		"Map":               second(obj.Map(".bss")),
		"SetGlobal":         obj.SetGlobal("my_pid", int32(1)),
		"Global":            obj.Global("my_pid", &v),
		"Program.FD":        second(prog.FD()),
		"Program.Attach":    second(prog.Attach()),
		"Program.SetAuto":   prog.SetAutoload(true),
		"Program.Test":      second(prog.Test(nil)),
		"Program.Pin":       prog.Pin("/sys/fs/bpf/bpfkit-never"),
		"Map.FD":            second(m.FD()),
		"Map.Info":          second(m.Info()),
		"Map.SetMaxEntries": m.SetMaxEntries(2),
		"Map.Pin":           m.Pin("/sys/fs/bpf/bpfkit-never"),
		"Link.FD":           second(link.FD()),
		"Link.Pin":          link.Pin("/sys/fs/bpf/bpfkit-never"),
	}
	for name, err := range calls {
		if !errors.Is(err, loader.ErrClosed) {
			t.Errorf("%s after Close: got %v, want ErrClosed", name, err)
		}
	}
	if prog.Autoload() || m.KeySize() != 0 || m.Type() != 0 {
		t.Errorf("getters after Close should return zero values")
	}
}

func second[T any](_ T, err error) error { return err }

// TestVerifierError loads an object whose second program dereferences a map value
// without a NULL check: Load fails with a *VerifierError that names the program,
// carries the kernel's words and the whole log, and unwraps to EACCES.
func TestVerifierError(t *testing.T) {
	for _, opts := range []*loader.Options{nil, {LogSize: 1 << 16}, {LogLevel: 2}} {
		obj := open(t, "verifier.bpf.o", testObject(t, "verifier.bpf.o"), opts)
		err := obj.Load()
		var ve *loader.VerifierError
		if !errors.As(err, &ve) {
			t.Fatalf("opts %+v: Load = %v, want *VerifierError", opts, err)
		}
		if ve.Program != "null_deref" {
			t.Errorf("opts %+v: Program = %q, want null_deref", opts, ve.Program)
		}
		const kernelWords = "R0 invalid mem access 'map_value_or_null'"
		if !strings.Contains(ve.Message, kernelWords) {
			t.Errorf("opts %+v: Message = %q, want the kernel's %q", opts, ve.Message, kernelWords)
		}
		if !strings.Contains(ve.Log, kernelWords) || !strings.Contains(ve.Log, "call bpf_map_lookup_elem") {
			t.Errorf("opts %+v: Log lacks the instructions and message:\n%s", opts, ve.Log)
		}
		if !errors.Is(err, syscall.EACCES) {
			t.Errorf("opts %+v: %v does not unwrap to EACCES", opts, err)
		}
		if !strings.Contains(err.Error(), `"null_deref"`) || !strings.Contains(err.Error(), "verifier.bpf.o") {
			t.Errorf("opts %+v: error text %q should name program and object", opts, err)
		}
	}

	// libbpf allows one load per object: after a failure the object says so.
	obj := open(t, "verifier.bpf.o", testObject(t, "verifier.bpf.o"), &loader.Options{Logger: discardLogger()})
	first := obj.Load()
	if err := obj.Load(); !errors.Is(err, loader.ErrAlreadyLoaded) || !strings.Contains(err.Error(), "open the object again") {
		t.Errorf("Load after a failed Load (%v): got %v, want ErrAlreadyLoaded saying to reopen", first, err)
	}

	// Without the bad program the same object loads.
	obj = open(t, "verifier.bpf.o", testObject(t, "verifier.bpf.o"), nil)
	p, err := obj.Program("null_deref")
	if err != nil {
		t.Fatal(err)
	}
	if err := p.SetAutoload(false); err != nil {
		t.Fatal(err)
	}
	if err := obj.Load(); err != nil {
		t.Fatalf("Load without null_deref: %v", err)
	}
	if _, err := p.FD(); !errors.Is(err, loader.ErrNotLoaded) {
		t.Fatalf("FD of a program not loaded: %v, want ErrNotLoaded", err)
	}
}

// TestLogSizeTooSmall: a verifier log that does not fit the buffer the user chose is
// reported, not silently cut.
func TestLogSizeTooSmall(t *testing.T) {
	obj := open(t, "verifier.bpf.o", testObject(t, "verifier.bpf.o"), &loader.Options{LogSize: 64})
	err := obj.Load()
	if err == nil {
		t.Fatal("Load succeeded with a failing program")
	}
	var ve *loader.VerifierError
	if !errors.Is(err, syscall.ENOSPC) || errors.As(err, &ve) {
		t.Fatalf("got %v, want ENOSPC and no VerifierError built from a cut log", err)
	}
	if miss := missingWords(err.Error(), "null_deref", "LogSize", "64 bytes"); len(miss) > 0 {
		t.Fatalf("error %q lacks %q", err, miss)
	}
}

// TestOpenErrors: bad input gives an error that says what was wrong.
func TestOpenErrors(t *testing.T) {
	tests := []struct {
		name string
		elf  []byte
		want string
	}{
		{"empty", nil, "empty input"},
		{"garbage", []byte("not an ELF file at all, just text"), "bad.o"},
		{"truncated", bpf.Minimal[:200], "bad.o"},
	}
	for _, tt := range tests {
		obj, err := loader.OpenBytes("bad.o", tt.elf, nil)
		if err == nil {
			_ = obj.Close()
			t.Errorf("%s: OpenBytes succeeded", tt.name)
			continue
		}
		if !strings.Contains(err.Error(), tt.want) {
			t.Errorf("%s: %v does not mention %q", tt.name, err, tt.want)
		}
	}
	if _, err := loader.Open("/nonexistent/x.bpf.o", nil); !errors.Is(err, syscall.ENOENT) {
		t.Errorf("Open of a missing file: %v, want ENOENT", err)
	}
}

// TestLibbpfErrorWords is issue 10 item 5: libbpf's own error codes come with libbpf's
// words, not as "errno 4001".
func TestLibbpfErrorWords(t *testing.T) {
	self, err := os.ReadFile("/proc/self/exe") // an ELF file, but no BPF object
	if err != nil {
		t.Fatal(err)
	}
	_, err = loader.OpenBytes("self", self, &loader.Options{Logger: discardLogger()})
	var le *loader.LibbpfError
	if !errors.As(err, &le) || le.Errno != 4001 {
		t.Fatalf("opening a non-BPF ELF: %v (%T), want a *LibbpfError with code 4001", err, err)
	}
	if strings.Contains(err.Error(), "errno 4001") || !strings.Contains(err.Error(), "BPF object format invalid") {
		t.Fatalf("error text %q", err)
	}
	if !errors.Is(err, syscall.Errno(4001)) {
		t.Fatal("the code is not reachable with errors.Is")
	}
}
