// SPDX-License-Identifier: Apache-2.0

package loader_test

import (
	"errors"
	"os"
	"path/filepath"
	"testing"

	"github.com/bpfkit/bpfkit/loader"
)

// The sections of bpf/testdata/realworld/statics.bpf.o as a generated skeleton mirrors
// them: its static variables (own_calls in the middle of .bss, hidden at the end of
// .data, salt and bpf_printk's format string at the end of .rodata) are left to padding.
type staticsBSS struct {
	Calls        uint64
	_            [8]byte // static own_calls
	SeenSalt     uint64
	SeenHidden   uint64
	SeenOwnCalls uint64
	SeenLast     uint64
	SeenKernel   int64
	SeenWeak     int64
}

type staticsData struct {
	First uint64
	Last  uint32
	_     [12]byte // padding, static hidden
}

type staticsRodata struct {
	MinLen uint32
	MaxLen uint32
	_      [27]byte // static salt, note.____fmt
}

// staticsBSSAll holds the static own_calls in a field of its own.
type staticsBSSAll struct {
	Calls, OwnCalls                              uint64
	SeenSalt, SeenHidden, SeenOwnCalls, SeenLast uint64
	SeenKernel, SeenWeak                         int64
}

func realworldObject(tb testing.TB, name string) []byte {
	tb.Helper()
	b, err := os.ReadFile(filepath.Join("..", "bpf", "testdata", "realworld", name))
	if err != nil {
		tb.Fatalf("reading test object (run `make bpf`): %v", err)
	}
	return b
}

// TestSectionsWithStatics: a section struct that leaves the static variables to padding
// is accepted by ReadSection, SetSection and MapSection wherever the statics lie, and
// SetSection keeps their bytes, before load (their initial values) and after (what the
// program made of them).
func TestSectionsWithStatics(t *testing.T) {
	obj := open(t, "statics.bpf.o", realworldObject(t, "statics.bpf.o"), nil)

	if got := readSection[staticsData](t, obj, ".data"); got.First != 11 || got.Last != 33 {
		t.Errorf(".data initially %+v, want first 11, last 33", got)
	}
	if got := readSection[staticsRodata](t, obj, ".rodata"); got.MinLen != 1 || got.MaxLen != 100 {
		t.Errorf(".rodata initially %+v, want 1, 100", got)
	}
	readSection[staticsBSS](t, obj, ".bss")

	// Zeroed blanks written over the statics would lose hidden = 22 and salt = 0x5eed.
	if err := obj.SetSection(".data", staticsData{First: 5, Last: 6}); err != nil {
		t.Fatal(err)
	}
	if err := obj.SetSection(".rodata", &staticsRodata{MinLen: 2, MaxLen: 3}); err != nil {
		t.Fatal(err)
	}
	if err := obj.Load(); err != nil {
		t.Fatal(err)
	}
	probe := func() uint32 {
		t.Helper()
		p, err := obj.Program("probe")
		if err != nil {
			t.Fatal(err)
		}
		res, err := p.Test(nil)
		if err != nil {
			t.Fatal(err)
		}
		return res.Retval
	}
	if ret := probe(); ret != 2+3+5 {
		t.Errorf("probe returned %d, want min_len+max_len+first = 10", ret)
	}
	bss := readSection[staticsBSS](t, obj, ".bss")
	if bss.Calls != 1 || bss.SeenOwnCalls != 1 || bss.SeenSalt != 0x5eed || bss.SeenHidden != 23 || bss.SeenLast != 6 {
		t.Errorf(".bss after one run = %+v, want calls 1, own_calls 1, salt 0x5eed, hidden 23, last 6", bss)
	}
	if bss.SeenKernel == 0 || bss.SeenWeak != 0 {
		t.Errorf("kconfig: LINUX_KERNEL_VERSION %d (want nonzero), the weak missing option %d (want 0)", bss.SeenKernel, bss.SeenWeak)
	}

	// After load, a write of .bss keeps the program's own count.
	if err := obj.SetSection(".bss", staticsBSS{Calls: 100}); err != nil {
		t.Fatal(err)
	}
	probe()
	if got := readSection[staticsBSS](t, obj, ".bss"); got.Calls != 101 || got.SeenOwnCalls != 2 || got.SeenHidden != 24 {
		t.Errorf(".bss after SetSection and a run = %+v, want calls 101, own_calls 2, hidden 24", got)
	}

	// A struct that holds the static in a field writes it.
	if err := obj.SetSection(".bss", staticsBSSAll{Calls: 7, OwnCalls: 50}); err != nil {
		t.Fatal(err)
	}
	probe()
	if got := readSection[staticsBSSAll](t, obj, ".bss"); got.Calls != 8 || got.OwnCalls != 51 {
		t.Errorf(".bss with own_calls set to 50 and a run = %+v, want calls 8, own_calls 51", got)
	}

	// The live section keeps working with the padded struct.
	live, err := loader.MapSection[staticsBSS](obj, ".bss")
	if err != nil {
		t.Fatal(err)
	}
	live.Calls = 1000
	probe()
	if live.Calls != 1001 || live.SeenOwnCalls != 52 {
		t.Errorf("live .bss after a run = %+v, want calls 1001, own_calls 52", *live)
	}

	// Leaving a static out is allowed; a field at its place must still match it.
	type wrong struct {
		Calls                                                              uint64
		Small                                                              uint32 // where the 8-byte own_calls is
		_                                                                  [4]byte
		SeenSalt, SeenHidden, SeenOwnCalls, SeenLast, SeenKernel, SeenWeak uint64
	}
	err = obj.SetSection(".bss", wrong{})
	if !errors.Is(err, loader.ErrLayout) {
		t.Fatalf("SetSection with a 4-byte field over the 8-byte static: %v, want ErrLayout", err)
	}
	if miss := missingWords(err.Error(), "field Small (C own_calls)", "sizes differ"); len(miss) > 0 {
		t.Errorf("error %q lacks %q", err, miss)
	}
}
