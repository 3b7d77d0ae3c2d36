// SPDX-License-Identifier: Apache-2.0

package loader_test

import (
	"errors"
	"strings"
	"sync"
	"testing"

	"github.com/bpfkit/bpfkit/loader"
)

type config struct {
	A uint32
	B uint16
	C [6]uint8
	D uint64
}

// TestGlobalsRoundTrip sets variables of .bss, .data, .rodata and .data.custom before
// load, has the program read them in the kernel, and reads and writes them after load.
func TestGlobalsRoundTrip(t *testing.T) {
	obj := open(t, "globals.bpf.o", testObject(t, "globals.bpf.o"), nil)

	// Before load every section is writable and reads back what was set.
	cfg := config{A: 2, B: 3, C: [6]uint8{5: 4}, D: 1000}
	sets := []struct {
		name  string
		value any
	}{
		{"limit", uint32(42)}, // .rodata
		{"cfg", cfg},          // .rodata, a struct
		{"level", int32(-5)},  // .data
		{"custom", uint32(9)}, // .data.custom
		{"counter", uint64(100)},
	}
	for _, s := range sets {
		if err := obj.SetGlobal(s.name, s.value); err != nil {
			t.Fatalf("SetGlobal(%q) before load: %v", s.name, err)
		}
	}
	var limit uint32
	if err := obj.Global("limit", &limit); err != nil || limit != 42 {
		t.Fatalf("Global(limit) before load = %d, %v; want 42", limit, err)
	}
	var gotCfg config
	if err := obj.Global("cfg", &gotCfg); err != nil || gotCfg != cfg {
		t.Fatalf("Global(cfg) before load = %+v, %v; want %+v", gotCfg, err, cfg)
	}

	if err := obj.Load(); err != nil {
		t.Fatal(err)
	}
	prog, err := obj.Program("snapshot")
	if err != nil {
		t.Fatal(err)
	}
	if _, err := prog.Test(nil); err != nil {
		t.Fatal(err)
	}

	// The program saw the values set before load.
	expectU64 := func(name string, want uint64) {
		t.Helper()
		var v uint64
		if err := obj.Global(name, &v); err != nil {
			t.Fatalf("Global(%q): %v", name, err)
		}
		if v != want {
			t.Fatalf("%s = %d, want %d", name, v, want)
		}
	}
	expectU64("seen_limit", 42)
	expectU64("seen_sum", 1000+2+3+4-5+9)
	expectU64("counter", 101)

	// After load .bss/.data are written in place: the program sees the new value.
	if err := obj.SetGlobal("counter", uint64(7)); err != nil {
		t.Fatal(err)
	}
	if err := obj.SetGlobal("level", int32(10)); err != nil {
		t.Fatal(err)
	}
	if _, err := prog.Test(nil); err != nil {
		t.Fatal(err)
	}
	expectU64("counter", 8)
	expectU64("seen_sum", 1000+2+3+4+10+9)

	// .rodata is frozen once loaded: readable, not writable.
	if err := obj.Global("limit", &limit); err != nil || limit != 42 {
		t.Fatalf("Global(limit) after load = %d, %v; want 42", limit, err)
	}
	if err := obj.SetGlobal("limit", uint32(1)); !errors.Is(err, loader.ErrReadOnly) || !strings.Contains(err.Error(), ".rodata") {
		t.Fatalf("SetGlobal(.rodata) after load: got %v, want ErrReadOnly naming the section", err)
	}
	if err := obj.Global("limit", &limit); err != nil || limit != 42 {
		t.Fatalf("Global(limit) after the refused write = %d, %v; want 42", limit, err)
	}
}

// TestGlobalErrors checks the size check and the errors for values that cannot be
// written to a variable.
func TestGlobalErrors(t *testing.T) {
	obj := open(t, "globals.bpf.o", testObject(t, "globals.bpf.o"), nil)
	tests := []struct {
		name  string
		value any
		want  []string
	}{
		{"limit", uint64(1), []string{`"limit"`, "4 bytes", "uint64 is 8 bytes"}},
		{"counter", int32(1), []string{`"counter"`, "8 bytes", "int32 is 4 bytes"}},
		{"cfg", uint32(1), []string{`"cfg"`, "24 bytes", "struct config"}},
		{"level", 5, []string{`"level"`, "4 bytes", "int is 8 bytes"}},
		{"level", "x", []string{`"level"`, "string", "only fixed-size plain data"}},
		{"level", &struct{ X int32 }{}, []string{"ptr", "only fixed-size plain data"}},
		// The right size, the wrong layout: struct config has a __u32 at 0, a __u16 at 4.
		{"cfg", struct{ A, B, D uint64 }{}, []string{`"cfg"`, "field A", "Go offset 0", "BTF offset 0"}},
		{"level", nil, []string{"nil"}},
		{"no_such_var", int32(1), []string{`no global variable "no_such_var"`, "counter", "limit", "custom"}},
	}
	for _, tt := range tests {
		err := obj.SetGlobal(tt.name, tt.value)
		if err == nil {
			t.Errorf("SetGlobal(%q, %T) succeeded, want an error", tt.name, tt.value)
			continue
		}
		if miss := missingWords(err.Error(), tt.want...); len(miss) > 0 {
			t.Errorf("SetGlobal(%q, %T) = %q, lacks %q", tt.name, tt.value, err, miss)
		}
	}
	var small uint16
	if err := obj.Global("limit", &small); err == nil || !strings.Contains(err.Error(), "uint16 is 2 bytes") {
		t.Errorf("Global(limit, *uint16) = %v, want a size error", err)
	}
	if err := obj.Global("limit", uint32(0)); err == nil || !strings.Contains(err.Error(), "pointer") {
		t.Errorf("Global(limit, uint32) = %v, want a pointer error", err)
	}
	if err := obj.SetGlobal("no_such_var", int32(1)); !errors.Is(err, loader.ErrNotFound) {
		t.Errorf("unknown global: %v does not wrap ErrNotFound", err)
	}
}

// TestGlobalsConcurrent is issue 10 item 5: SetGlobal and SetSection racing Global and
// ReadSection, before and after Load, are no data race (run with -race) and never
// return a torn value.
func TestGlobalsConcurrent(t *testing.T) {
	obj := open(t, "globals.bpf.o", testObject(t, "globals.bpf.o"), nil)
	hammer := func(phase string) {
		var wg sync.WaitGroup
		for w := range 2 {
			wg.Go(func() {
				for i := range 2000 {
					v := uint64(w)<<32 | uint64(i)
					if err := obj.SetGlobal("counter", v); err != nil {
						t.Errorf("%s: SetGlobal: %v", phase, err)
						return
					}
				}
			})
		}
		wg.Go(func() {
			for range 2000 {
				var v uint64
				if err := obj.Global("counter", &v); err != nil {
					t.Errorf("%s: Global: %v", phase, err)
					return
				}
				if w, i := v>>32, v&0xffffffff; w > 1 || i >= 2000 {
					t.Errorf("%s: torn value %#x", phase, v)
					return
				}
			}
		})
		wg.Go(func() {
			for range 500 {
				var bss struct {
					Counter, SeenLimit, SeenSum uint64
				}
				if err := obj.ReadSection(".bss", &bss); err != nil {
					t.Errorf("%s: ReadSection: %v", phase, err)
					return
				}
			}
		})
		wg.Wait()
	}
	hammer("before load")
	if err := obj.Load(); err != nil {
		t.Fatal(err)
	}
	hammer("after load")
}
