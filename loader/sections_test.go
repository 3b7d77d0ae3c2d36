// SPDX-License-Identifier: Apache-2.0

package loader_test

import (
	"errors"
	"runtime"
	"strconv"
	"strings"
	"testing"
	"time"
	"unsafe"

	"golang.org/x/sys/unix"

	"github.com/bpfkit/bpfkit/internal/testutil"
	"github.com/bpfkit/bpfkit/loader"
	"github.com/bpfkit/bpfkit/maps"
)

// The sections of globals.bpf.o as a generated skeleton would mirror them.
type globalsBSS struct {
	Counter   uint64
	SeenLimit uint64
	SeenSum   uint64
}

type globalsData struct{ Level int32 }

type globalsCustom struct{ Custom uint32 }

type globalsRodata struct {
	Limit uint32
	_     [4]byte
	Cfg   config
}

// The sections of sections.bpf.o: a 12-byte .bss that Go makes 16 bytes ("datasec
// slack"), and a .data.big over two pages.
type sectionsBSS struct {
	Hits uint64
	Last uint32
}

type sectionsBig struct {
	Head uint64
	Buf  [5000]uint8
	Tail uint64
}

func loadObject(t *testing.T, name string) *loader.Object {
	t.Helper()
	obj := open(t, name, testObject(t, name), nil)
	if err := obj.Load(); err != nil {
		t.Fatal(err)
	}
	return obj
}

func runProgram(t *testing.T, obj *loader.Object, name string) {
	t.Helper()
	p, err := obj.Program(name)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := p.Test(nil); err != nil {
		t.Fatal(err)
	}
}

func readSection[T any](t *testing.T, obj *loader.Object, section string) T {
	t.Helper()
	var v T
	if err := obj.ReadSection(section, &v); err != nil {
		t.Fatalf("ReadSection(%q): %v", section, err)
	}
	return v
}

// TestSectionsBeforeLoad reads the C initial values of every section, writes each whole
// section, reads it back, and has the program see in the kernel what was written.
func TestSectionsBeforeLoad(t *testing.T) {
	obj := open(t, "globals.bpf.o", testObject(t, "globals.bpf.o"), nil)

	if got := readSection[globalsData](t, obj, ".data"); got.Level != 7 {
		t.Errorf(".data initially %+v, want level 7", got)
	}
	if got := readSection[globalsCustom](t, obj, ".data.custom"); got.Custom != 3 {
		t.Errorf(".data.custom initially %+v, want custom 3", got)
	}
	if got := readSection[globalsRodata](t, obj, ".rodata"); got.Limit != 10 || got.Cfg != (config{A: 1}) {
		t.Errorf(".rodata initially %+v, want limit 10, cfg.a 1", got)
	}
	if got := readSection[globalsBSS](t, obj, ".bss"); got != (globalsBSS{}) {
		t.Errorf(".bss initially %+v, want zeros", got)
	}

	ro := globalsRodata{Limit: 42, Cfg: config{A: 2, B: 3, C: [6]uint8{5: 4}, D: 1000}}
	writes := []struct {
		section string
		value   any
	}{
		{".rodata", ro},                                // a struct
		{".data", &globalsData{Level: -5}},             // a pointer to one
		{".data.custom", globalsCustom{Custom: 9}},     // one variable
		{".bss", globalsBSS{Counter: 100, SeenSum: 1}}, // overwritten by the program
	}
	for _, w := range writes {
		if err := obj.SetSection(w.section, w.value); err != nil {
			t.Fatalf("SetSection(%q) before load: %v", w.section, err)
		}
	}
	if got := readSection[globalsRodata](t, obj, ".rodata"); got != ro {
		t.Errorf(".rodata reads back %+v, want %+v", got, ro)
	}
	if got := readSection[globalsData](t, obj, ".data"); got.Level != -5 {
		t.Errorf(".data reads back %+v", got)
	}
	if got := readSection[globalsCustom](t, obj, ".data.custom"); got.Custom != 9 {
		t.Errorf(".data.custom reads back %+v", got)
	}
	// The variables are where SetGlobal and Global find them.
	var limit uint32
	if err := obj.Global("limit", &limit); err != nil || limit != 42 {
		t.Errorf("Global(limit) after SetSection = %d, %v; want 42", limit, err)
	}
	var counter uint64
	if err := obj.Global("counter", &counter); err != nil || counter != 100 {
		t.Errorf("Global(counter) after SetSection = %d, %v; want 100", counter, err)
	}

	if err := obj.Load(); err != nil {
		t.Fatal(err)
	}
	runProgram(t, obj, "snapshot")
	want := globalsBSS{Counter: 101, SeenLimit: 42, SeenSum: 1000 + 2 + 3 + 4 - 5 + 9}
	if got := readSection[globalsBSS](t, obj, ".bss"); got != want {
		t.Errorf(".bss after the run = %+v, want %+v", got, want)
	}
}

// TestSectionsAfterLoad writes .bss, .data and .data.custom of a loaded object, has the
// program read them, reads what it wrote, and reads the frozen .rodata.
func TestSectionsAfterLoad(t *testing.T) {
	obj := loadObject(t, "globals.bpf.o")

	for _, w := range []struct {
		section string
		value   any
	}{
		{".bss", globalsBSS{Counter: 7}},
		{".data", globalsData{Level: 10}},
		{".data.custom", &globalsCustom{Custom: 20}},
	} {
		if err := obj.SetSection(w.section, w.value); err != nil {
			t.Fatalf("SetSection(%q) after load: %v", w.section, err)
		}
	}
	runProgram(t, obj, "snapshot")
	want := globalsBSS{Counter: 8, SeenLimit: 10, SeenSum: 0 + 1 + 0 + 0 + 10 + 20}
	if got := readSection[globalsBSS](t, obj, ".bss"); got != want {
		t.Errorf(".bss after the run = %+v, want %+v", got, want)
	}
	if got := readSection[globalsData](t, obj, ".data"); got.Level != 10 {
		t.Errorf(".data after load reads %+v", got)
	}
	if got := readSection[globalsRodata](t, obj, ".rodata"); got.Limit != 10 || got.Cfg.A != 1 {
		t.Errorf(".rodata after load reads %+v", got)
	}
	// SetGlobal after load writes the same memory.
	if err := obj.SetGlobal("counter", uint64(50)); err != nil {
		t.Fatal(err)
	}
	if got := readSection[globalsBSS](t, obj, ".bss"); got.Counter != 50 {
		t.Errorf(".bss after SetGlobal(counter, 50) reads %+v", got)
	}

	err := obj.SetSection(".rodata", globalsRodata{Limit: 1})
	if !errors.Is(err, loader.ErrReadOnly) {
		t.Fatalf("SetSection(.rodata) after load = %v, want ErrReadOnly", err)
	}
	if miss := missingWords(err.Error(), "globals.bpf.o", `".rodata"`); len(miss) > 0 {
		t.Errorf("error %q lacks %q", err, miss)
	}
}

// TestSectionSlack: a Go struct a few bytes bigger than its section (Go rounds a struct
// to its alignment; C does not round a section) is accepted, only the section's bytes
// are copied, and ReadSection zeroes the rest.
func TestSectionSlack(t *testing.T) {
	obj := open(t, "sections.bpf.o", testObject(t, "sections.bpf.o"), nil)
	if unsafe.Sizeof(sectionsBSS{}) != 16 {
		t.Fatalf("sectionsBSS is %d bytes, the test needs 16 for a 12-byte section", unsafe.Sizeof(sectionsBSS{}))
	}
	check := func(when string, want sectionsBSS) {
		t.Helper()
		var got sectionsBSS
		raw := unsafe.Slice((*byte)(unsafe.Pointer(&got)), unsafe.Sizeof(got))
		for i := range raw {
			raw[i] = 0xff
		}
		if err := obj.ReadSection(".bss", &got); err != nil {
			t.Fatalf("%s: ReadSection(.bss): %v", when, err)
		}
		if got != want {
			t.Errorf("%s: .bss = %+v, want %+v", when, got, want)
		}
		if tail := raw[12:]; string(tail) != "\x00\x00\x00\x00" {
			t.Errorf("%s: the 4 bytes past the 12-byte section are % x, want zeros", when, tail)
		}
	}
	if err := obj.SetSection(".bss", sectionsBSS{Hits: 5, Last: 6}); err != nil {
		t.Fatalf("SetSection(.bss) with slack: %v", err)
	}
	check("before load", sectionsBSS{Hits: 5, Last: 6})

	if err := obj.Load(); err != nil {
		t.Fatal(err)
	}
	runProgram(t, obj, "bump")
	check("after load", sectionsBSS{Hits: 6, Last: 1 + 0})

	p, err := loader.MapSection[sectionsBSS](obj, ".bss")
	if err != nil {
		t.Fatalf("MapSection(.bss) with slack: %v", err)
	}
	if *p != (sectionsBSS{Hits: 6, Last: 1}) {
		t.Errorf("MapSection(.bss) = %+v", *p)
	}

	// A struct more than alignment-1 bytes too big is no slack.
	type tooBig struct {
		Hits uint64
		Last uint32
		More uint64
	}
	if err := obj.SetSection(".bss", tooBig{}); !errors.Is(err, maps.ErrLayout) {
		t.Errorf("SetSection(.bss, 24-byte struct) = %v, want ErrLayout", err)
	}
}

// TestSectionTwoPages: a section bigger than a page is mapped whole; the program's write
// to the second page is seen through the pointer, and a write through it is seen by the
// program.
func TestSectionTwoPages(t *testing.T) {
	obj := loadObject(t, "sections.bpf.o")
	big, err := loader.MapSection[sectionsBig](obj, ".data.big")
	if err != nil {
		t.Fatal(err)
	}
	if big.Head != 1 || big.Buf[0] != 1 || big.Tail != 2 {
		t.Fatalf(".data.big initially head %d buf[0] %d tail %d, want 1 1 2", big.Head, big.Buf[0], big.Tail)
	}
	big.Head = 30
	big.Buf[4999] = 12
	runProgram(t, obj, "bump")
	if big.Tail != 3 {
		t.Errorf("tail after the run = %d, want 3", big.Tail)
	}
	bss, err := loader.MapSection[sectionsBSS](obj, ".bss")
	if err != nil {
		t.Fatal(err)
	}
	if bss.Last != 42 {
		t.Errorf("the program saw head+buf[4999] = %d, want 30+12", bss.Last)
	}
	var again sectionsBig
	if err := obj.ReadSection(".data.big", &again); err != nil || again != *big {
		t.Errorf("ReadSection(.data.big) differs from the mapped section (%v)", err)
	}
}

// TestMapSection: the pointer is the kernel map's memory, both ways, and is the memory
// SetGlobal, Global, SetSection and ReadSection use after load.
func TestMapSection(t *testing.T) {
	obj := loadObject(t, "globals.bpf.o")
	bss, err := loader.MapSection[globalsBSS](obj, ".bss")
	if err != nil {
		t.Fatal(err)
	}
	data, err := loader.MapSection[globalsData](obj, ".data")
	if err != nil {
		t.Fatal(err)
	}
	if data.Level != 7 {
		t.Errorf(".data level through the pointer = %d, want 7", data.Level)
	}

	bss.Counter = 41
	data.Level = 100
	runProgram(t, obj, "snapshot")
	if bss.Counter != 42 {
		t.Errorf("counter after the run = %d, want 42 (41 written from Go, +1 by the program)", bss.Counter)
	}
	if want := uint64(1 + 100 + 3); bss.SeenSum != want {
		t.Errorf("the program saw sum %d, want %d", bss.SeenSum, want)
	}
	if bss.SeenLimit != 10 {
		t.Errorf("seen_limit = %d, want 10", bss.SeenLimit)
	}

	// The same memory as the other accessors.
	var counter uint64
	if err := obj.Global("counter", &counter); err != nil || counter != 42 {
		t.Errorf("Global(counter) = %d, %v; want 42", counter, err)
	}
	if err := obj.SetGlobal("counter", uint64(1000)); err != nil {
		t.Fatal(err)
	}
	if bss.Counter != 1000 {
		t.Errorf("counter through the pointer after SetGlobal = %d, want 1000", bss.Counter)
	}
	if err := obj.SetSection(".bss", globalsBSS{Counter: 5}); err != nil {
		t.Fatal(err)
	}
	if *bss != (globalsBSS{Counter: 5}) {
		t.Errorf(".bss through the pointer after SetSection = %+v", *bss)
	}

	// A second call returns the same memory.
	bss2, err := loader.MapSection[globalsBSS](obj, ".bss")
	if err != nil {
		t.Fatal(err)
	}
	if bss2 != bss {
		t.Errorf("two MapSection calls gave %p and %p", bss2, bss)
	}
	// Another type of the same layout sees the same memory too.
	type alias struct{ A, B, C uint64 }
	other, err := loader.MapSection[alias](obj, ".bss")
	if err != nil {
		t.Fatal(err)
	}
	if unsafe.Pointer(other) != unsafe.Pointer(bss) || other.A != 5 {
		t.Errorf("MapSection with another type of the layout: %p (A=%d), want %p", other, other.A, bss)
	}
	if line := mappingAt(t, uintptr(unsafe.Pointer(bss))); !strings.HasSuffix(line, "anon_inode:bpf-map") || !strings.Contains(line, " rw-s ") {
		t.Errorf("the pointer's mapping is %q, want a shared rw mapping of a bpf map", line)
	}
}

// TestMapSectionAfterClose: Close drops the mapping's reference to the kernel map (the
// map leaves the kernel) while a pointer kept past Close still reads the last values and
// can be written, as ordinary memory.
func TestMapSectionAfterClose(t *testing.T) {
	obj := loadObject(t, "globals.bpf.o")
	bss, err := loader.MapSection[globalsBSS](obj, ".bss")
	if err != nil {
		t.Fatal(err)
	}
	// .rodata is mapped too (read-only) once read after load: Close detaches it as well.
	if got := readSection[globalsRodata](t, obj, ".rodata"); got.Limit != 10 {
		t.Fatalf(".rodata limit = %d", got.Limit)
	}
	m, err := obj.Map(".bss")
	if err != nil {
		t.Fatal(err)
	}
	fd, err := m.FD()
	if err != nil {
		t.Fatal(err)
	}
	id := mapID(t, fd)
	bss.Counter = 9
	runProgram(t, obj, "snapshot")
	addr := uintptr(unsafe.Pointer(bss))

	if err := obj.Close(); err != nil {
		t.Fatal(err)
	}
	if *bss != (globalsBSS{Counter: 10, SeenLimit: 10, SeenSum: 1 + 7 + 3}) {
		t.Errorf("after Close the pointer reads %+v", *bss)
	}
	bss.Counter++ // ordinary memory now: no fault
	if bss.Counter != 11 {
		t.Errorf("counter = %d after ++ past Close", bss.Counter)
	}
	if line := mappingAt(t, addr); strings.Contains(line, "bpf-map") {
		t.Errorf("after Close the pointer's memory is still a map's: %q", line)
	}
	waitMapGone(t, id)
	runtime.KeepAlive(bss)
}

// TestSectionErrors: each misuse gives its sentinel and names the object and section.
func TestSectionErrors(t *testing.T) {
	obj := open(t, "globals.bpf.o", testObject(t, "globals.bpf.o"), nil)
	var bss globalsBSS
	tests := []struct {
		name    string
		section string // named, quoted, in the error
		call    func(section string) error
		is      error
		want    []string
	}{
		{"unknown section", ".data.nope", func(s string) error { return obj.SetSection(s, globalsData{}) },
			loader.ErrNotFound, []string{"it has: .bss, .data, .data.custom, .rodata"}},
		{"unknown section read", ".nope", func(s string) error { return obj.ReadSection(s, &bss) },
			loader.ErrNotFound, []string{"it has: .bss, .data, .data.custom, .rodata"}},
		{"map of an unknown section", ".bss.x", func(s string) error { _, err := loader.MapSection[globalsBSS](obj, s); return err },
			loader.ErrNotFound, nil},
		{"a section that is no global data", "license", func(s string) error { return obj.SetSection(s, [13]byte{}) },
			loader.ErrNotFound, nil},
		{"map before load", ".bss", func(s string) error { _, err := loader.MapSection[globalsBSS](obj, s); return err },
			loader.ErrNotLoaded, nil},
		{"wrong size", ".bss", func(s string) error { return obj.SetSection(s, globalsData{}) },
			maps.ErrLayout, []string{"24 bytes"}},
		{"wrong layout", ".rodata", func(s string) error { return obj.SetSection(s, struct{ A, B, C, D uint64 }{}) },
			maps.ErrLayout, []string{"field"}},
		{"read wrong layout", ".rodata", func(s string) error { return obj.ReadSection(s, &struct{ A, B, C, D uint64 }{}) },
			maps.ErrLayout, nil},
		{"nil value", ".bss", func(s string) error { return obj.SetSection(s, nil) }, nil, []string{"nil"}},
		{"nil pointer", ".bss", func(s string) error { return obj.SetSection(s, (*globalsBSS)(nil)) }, nil, []string{"nil"}},
		{"read into a value", ".bss", func(s string) error { return obj.ReadSection(s, bss) }, nil, []string{"pointer"}},
		{"read into nil", ".bss", func(s string) error { return obj.ReadSection(s, (*globalsBSS)(nil)) }, nil, []string{"pointer"}},
		{"pointers", ".data", func(s string) error { return obj.SetSection(s, struct{ P *int32 }{}) }, maps.ErrLayout, nil},
	}
	for _, tt := range tests {
		err := tt.call(tt.section)
		if err == nil {
			t.Errorf("%s: no error", tt.name)
			continue
		}
		if tt.is != nil && !errors.Is(err, tt.is) {
			t.Errorf("%s: %v does not wrap %v", tt.name, err, tt.is)
		}
		if miss := missingWords(err.Error(), append(tt.want, "globals.bpf.o", strconv.Quote(tt.section))...); len(miss) > 0 {
			t.Errorf("%s: %q lacks %q", tt.name, err, miss)
		}
	}

	if err := obj.Load(); err != nil {
		t.Fatal(err)
	}
	_, err := loader.MapSection[globalsRodata](obj, ".rodata")
	if !errors.Is(err, loader.ErrReadOnly) || !strings.Contains(err.Error(), `".rodata"`) {
		t.Errorf("MapSection(.rodata) = %v, want ErrReadOnly naming the section", err)
	}
	_, err = loader.MapSection[globalsData](obj, ".bss")
	if !errors.Is(err, maps.ErrLayout) || !strings.Contains(err.Error(), `".bss"`) {
		t.Errorf("MapSection(.bss) with a 4-byte type = %v, want ErrLayout naming the section", err)
	}

	if err := obj.Close(); err != nil {
		t.Fatal(err)
	}
	for name, err := range map[string]error{
		"SetSection":  obj.SetSection(".bss", globalsBSS{}),
		"ReadSection": obj.ReadSection(".bss", &bss),
		"MapSection":  func() error { _, err := loader.MapSection[globalsBSS](obj, ".bss"); return err }(),
	} {
		if !errors.Is(err, loader.ErrClosed) {
			t.Errorf("%s after Close = %v, want ErrClosed", name, err)
		} else if miss := missingWords(err.Error(), "globals.bpf.o", `".bss"`); len(miss) > 0 {
			t.Errorf("%s after Close: %q lacks %q", name, err, miss)
		}
	}
}

// TestMapSectionFinalizer: an Object dropped without Close leaves its kernel objects
// (only Close releases them), but when its section memory becomes unreachable the
// finalizer detaches it: the mapping's reference to the map goes, so once the fds the
// leaked object holds are closed the map leaves the kernel.
func TestMapSectionFinalizer(t *testing.T) {
	testutil.RequirePrivileged(t)
	elf := testObject(t, "globals.bpf.o")
	t.Log("the leak detector's warning of a loader.Object collected without Close is expected here")
	before := loader.SectionFinalizersRun()
	addr, id, fds := func() (uintptr, uint32, []int) {
		obj, err := loader.OpenBytes("globals.bpf.o", elf, &loader.Options{Logger: discardLogger()})
		if err != nil {
			t.Fatal(err)
		}
		if err := obj.Load(); err != nil {
			t.Fatal(err)
		}
		bss, err := loader.MapSection[globalsBSS](obj, ".bss")
		if err != nil {
			t.Fatal(err)
		}
		bss.Counter = 3
		var fds []int
		var id uint32
		for _, m := range obj.Maps() {
			fd, err := m.FD()
			if err != nil {
				t.Fatal(err)
			}
			if m.Section() == ".bss" {
				id = mapID(t, fd)
			}
			fds = append(fds, fd)
		}
		for _, p := range obj.Programs() {
			fd, err := p.FD()
			if err != nil {
				t.Fatal(err)
			}
			fds = append(fds, fd)
		}
		return uintptr(unsafe.Pointer(bss)), id, fds
	}()
	if line := mappingAt(t, addr); !strings.HasSuffix(line, "anon_inode:bpf-map") {
		t.Fatalf("the section's memory is %q, want a bpf-map mapping", line)
	}

	// The Object and the pointer are unreachable: collect until the finalizer has run.
	deadline := time.Now().Add(5 * time.Second)
	for loader.SectionFinalizersRun() == before {
		if time.Now().After(deadline) {
			t.Fatal("the section memory's finalizer did not run within 5s")
		}
		runtime.GC()
		time.Sleep(time.Millisecond)
	}
	if line := mappingAt(t, addr); strings.Contains(line, "bpf-map") {
		t.Errorf("after the finalizer the memory is still a map's: %q", line)
	}
	// Close the descriptors the leaked object holds, as the process's exit would; the
	// mapping held no reference any more, so the map goes.
	if !mapExists(t, id) {
		t.Fatal("the leaked object's map is gone before its fds are closed")
	}
	for _, fd := range fds {
		if err := unix.Close(fd); err != nil {
			t.Fatalf("closing the leaked object's fd %d: %v", fd, err)
		}
	}
	waitMapGone(t, id)
}

// TestSectionNoGrowthOver200Cycles: 200 open/load/MapSection/Close cycles, each pointer
// kept past Close, leave the process's fds and memory mappings as they were.
func TestSectionNoGrowthOver200Cycles(t *testing.T) {
	elf := testObject(t, "globals.bpf.o")
	cycle := func(i int) *globalsBSS {
		obj, err := loader.OpenBytes("globals.bpf.o", elf, nil)
		if err != nil {
			t.Fatalf("cycle %d: %v", i, err)
		}
		if err := obj.SetSection(".data", globalsData{Level: int32(i)}); err != nil {
			t.Fatalf("cycle %d: %v", i, err)
		}
		if err := obj.Load(); err != nil {
			t.Fatalf("cycle %d: %v", i, err)
		}
		bss, err := loader.MapSection[globalsBSS](obj, ".bss")
		if err != nil {
			t.Fatalf("cycle %d: %v", i, err)
		}
		var ro globalsRodata
		if err := obj.ReadSection(".rodata", &ro); err != nil { // maps .rodata too
			t.Fatalf("cycle %d: %v", i, err)
		}
		bss.Counter = uint64(i)
		runProgram(t, obj, "snapshot")
		if err := obj.Close(); err != nil {
			t.Fatalf("cycle %d: close: %v", i, err)
		}
		return bss
	}
	open(t, "globals.bpf.o", elf, nil).Close() // privilege check
	for i := range 5 {
		cycle(i) // warm-up: the heap grows to its working size
	}
	runtime.GC()
	fdsBefore, mapsBefore, bpfBefore := testutil.OpenFDs(t), len(procMaps(t)), bpfMappings(t)

	kept := make([]*globalsBSS, 200)
	for i := range kept {
		kept[i] = cycle(i)
	}
	for i, p := range kept {
		if want := (globalsBSS{Counter: uint64(i) + 1, SeenLimit: 10, SeenSum: 1 + uint64(i) + 3}); *p != want {
			t.Fatalf("cycle %d: the pointer kept past Close reads %+v, want %+v", i, *p, want)
		}
	}
	runtime.GC()
	if after := testutil.OpenFDs(t); after != fdsBefore {
		t.Errorf("open fds: %d before, %d after 200 cycles", fdsBefore, after)
	}
	if after := bpfMappings(t); after != bpfBefore {
		t.Errorf("bpf-map mappings: %d before, %d after 200 cycles", bpfBefore, after)
	}
	// The Go heap itself may grow by an arena or so; 200 leaked mappings would not fit.
	t.Logf("mappings in /proc/self/maps: %d before, %d after 200 cycles", mapsBefore, len(procMaps(t)))
	if after := len(procMaps(t)); after > mapsBefore+16 {
		t.Errorf("mappings in /proc/self/maps: %d before, %d after 200 cycles", mapsBefore, after)
	}
	runtime.KeepAlive(kept)
}
