// SPDX-License-Identifier: Apache-2.0

package loader_test

import (
	"errors"
	"os"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/cilium/ebpf"
	"golang.org/x/sys/unix"

	"github.com/bpfkit/bpfkit/loader"
	"github.com/bpfkit/bpfkit/maps"
)

// realshape.bpf.o's settings, which a loader makes before Load (as bcc's tools, loxilb
// and sched_ext's loaders do in C).
const (
	stackDepth   = 127
	stackEntries = 64
)

func mapOf(t *testing.T, obj *loader.Object, name string) *loader.Map {
	t.Helper()
	m, err := obj.Map(name)
	if err != nil {
		t.Fatal(err)
	}
	return m
}

func progOf(t *testing.T, obj *loader.Object, name string) *loader.Program {
	t.Helper()
	p, err := obj.Program(name)
	if err != nil {
		t.Fatal(err)
	}
	return p
}

// innerTemplate loads maps.bpf.o and returns its array a_plain (u32 → u64), the inner
// map realshape's outer map is modelled on.
func innerTemplate(t *testing.T) *loader.Map {
	t.Helper()
	obj := open(t, "maps.bpf.o", readBPF(t, "testdata/maps/maps.bpf.o"), nil)
	load(t, obj)
	return mapOf(t, obj, "a_plain")
}

func readBPF(t *testing.T, rel string) []byte {
	t.Helper()
	b, err := os.ReadFile("../bpf/" + rel)
	if err != nil {
		t.Fatal(err)
	}
	return b
}

// realshapeStep applies the first n of the settings realshape.bpf.o needs.
func realshapeStep(t *testing.T, obj *loader.Object, n int, inner *loader.Map) {
	t.Helper()
	steps := []func() error{
		func() error { return mapOf(t, obj, "stacks").SetValueSize(stackDepth * 8) },
		func() error { return mapOf(t, obj, "stacks").SetMaxEntries(stackEntries) },
		func() error { return mapOf(t, obj, "outer").SetInnerMap(inner) },
		func() error { return progOf(t, obj, "hook_tc").SetType(ebpf.SchedCLS) },
		func() error { return progOf(t, obj, "hook_cg").SetType(ebpf.CGroupSKB) },
		func() error {
			return progOf(t, obj, "hook_cg").SetExpectedAttachType(ebpf.AttachCGroupInetEgress)
		},
		func() error { return progOf(t, obj, "btf_tp").SetAttachTarget("sys_enter", nil) },
	}
	for i, s := range steps[:n] {
		if err := s(); err != nil {
			t.Fatalf("setting %d: %v", i, err)
		}
	}
}

// TestLoadErrorsNameWhatFailed: realshape.bpf.o loaded before each of its settings fails
// with libbpf's own diagnosis, naming the map or program, wrapped around the errno, and
// with what to do; libbpf's warnings about it are not printed besides.
func TestLoadErrorsNameWhatFailed(t *testing.T) {
	inner := innerTemplate(t)
	tests := []struct {
		steps          int
		program, mapn  string
		words          []string
		errno          syscall.Errno
		hint           string
		enableMaybeFen bool
	}{
		{0, "", "stacks", []string{`map "stacks" of realshape.bpf.o`, "failed to create"}, syscall.EINVAL, "Map.SetValueSize", false},
		{2, "", "outer", []string{`map "outer" of realshape.bpf.o`, "failed to create"}, syscall.EINVAL, "", false},
		{3, "hook_tc", "", []string{"missing BPF prog type", "tc_packet_hook0"}, syscall.EINVAL, "Program.SetType", false},
		{6, "btf_tp", "", []string{"no BTF-based attach target"}, syscall.EINVAL, "", false},
		{7, "maybe_fentry", "", []string{"failed to find kernel BTF type ID of 'bpfkit_no_such_function'"}, syscall.ESRCH, "SetAttachTarget", true},
	}
	for _, tt := range tests {
		var logs strings.Builder
		obj := open(t, "realshape.bpf.o", testObject(t, "realshape.bpf.o"), &loader.Options{Logger: textLogger(&logs)})
		realshapeStep(t, obj, tt.steps, inner)
		if tt.enableMaybeFen {
			if err := progOf(t, obj, "maybe_fentry").SetAutoload(true); err != nil {
				t.Fatal(err)
			}
		}
		err := obj.Load()
		var le *loader.LoadError
		if !errors.As(err, &le) {
			t.Fatalf("after %d settings: Load = %v (%T), want a *LoadError", tt.steps, err, err)
		}
		if le.Program != tt.program || le.Map != tt.mapn || le.Object != "realshape.bpf.o" {
			t.Errorf("after %d settings: program %q map %q object %q, want %q %q", tt.steps, le.Program, le.Map, le.Object, tt.program, tt.mapn)
		}
		if miss := missingWords(err.Error(), tt.words...); len(miss) > 0 {
			t.Errorf("after %d settings: %q lacks libbpf's %q", tt.steps, err, miss)
		}
		if tt.program != "" && !strings.Contains(err.Error(), `program "`+tt.program+`" of realshape.bpf.o`) {
			t.Errorf("after %d settings: %q does not name the program", tt.steps, err)
		}
		if !errors.Is(err, tt.errno) {
			t.Errorf("after %d settings: %v does not wrap %v", tt.steps, err, tt.errno)
		}
		if !strings.Contains(le.Hint, tt.hint) {
			t.Errorf("after %d settings: hint %q, want one mentioning %q", tt.steps, le.Hint, tt.hint)
		}
		if tt.mapn != "" && !strings.HasPrefix(le.Libbpf, "map '"+tt.mapn+"': failed to create") {
			t.Errorf("after %d settings: libbpf's words %q", tt.steps, le.Libbpf)
		}
		// libbpf's words are in the error, and at debug level only in the log
		for _, w := range append(tt.words, le.Libbpf) {
			for _, line := range strings.Split(logs.String(), "\n") {
				if strings.Contains(line, w) && !strings.Contains(line, "level=DEBUG") {
					t.Errorf("after %d settings: libbpf's %q was logged besides the error: %s", tt.steps, w, line)
				}
			}
		}
	}
}

// TestSettersLoadRealShapes sets what realshape.bpf.o needs, loads it and shows each
// setting in the kernel: the stack-trace map's sizes, the tc and cgroup programs typed by
// hand (a test run, a cgroup link's attach type), the tp_btf target, the inner map.
func TestSettersLoadRealShapes(t *testing.T) {
	inner := innerTemplate(t)
	obj := open(t, "realshape.bpf.o", testObject(t, "realshape.bpf.o"), nil)
	realshapeStep(t, obj, 7, inner)
	resized := mapOf(t, obj, "resized")
	for _, err := range []error{resized.SetKeySize(8), resized.SetValueSize(16), resized.SetType(ebpf.LRUHash),
		resized.SetFlags(unix.BPF_F_NO_COMMON_LRU)} {
		if err != nil {
			t.Fatal(err)
		}
	}
	if err := obj.SetGlobal("target_pid", uint32(os.Getpid())); err != nil {
		t.Fatal(err)
	}
	if p := progOf(t, obj, "hook_tc"); p.Type() != ebpf.SchedCLS {
		t.Fatalf("hook_tc's type after SetType is %v", p.Type())
	}
	if p := progOf(t, obj, "hook_cg"); p.Type() != ebpf.CGroupSKB || p.AttachType() != ebpf.AttachCGroupInetEgress {
		t.Fatalf("hook_cg is %v/%v after the setters", p.Type(), p.AttachType())
	}
	load(t, obj)

	// The maps the kernel made.
	for _, c := range []struct {
		m                    *loader.Map
		typ                  ebpf.MapType
		key, value, max, flg uint32
	}{
		{mapOf(t, obj, "stacks"), ebpf.StackTrace, 4, stackDepth * 8, stackEntries, 0},
		{resized, ebpf.LRUHash, 8, 16, 16, unix.BPF_F_NO_COMMON_LRU},
	} {
		fd, err := c.m.FD()
		if err != nil {
			t.Fatal(err)
		}
		km, err := maps.FromFD(fd)
		if err != nil {
			t.Fatal(err)
		}
		ki, _ := km.Info()
		_ = km.Close()
		if ki.Type != c.typ || ki.KeySize != c.key || ki.ValueSize != c.value || ki.MaxEntries != c.max || ki.Flags != c.flg {
			t.Errorf("map %s in the kernel: %+v, want %v key %d value %d max %d flags %#x", c.m.Name(), ki, c.typ, c.key, c.value, c.max, c.flg)
		}
	}
	lru, err := maps.NewLRUHash[uint64, [16]byte](resized)
	if err != nil {
		t.Fatalf("typed accessor on the resized map: %v", err)
	}
	if err := lru.Update(1<<40, [16]byte{7}, maps.UpdateAny); err != nil {
		t.Fatal(err)
	}

	// The stack-trace program records a stack in the resized map.
	if err := obj.Attach(); err != nil {
		t.Fatal(err)
	}
	var stackID int64
	waitFor(t, "a stack id in last_stack", func() bool {
		unix.Getpid()
		_ = obj.Global("last_stack", &stackID)
		return stackID >= 0
	})
	// tp_btf: attached to the target SetAttachTarget named.
	var btfHits uint64
	waitFor(t, "a hit of the tp_btf program", func() bool {
		unix.Getpid()
		_ = obj.Global("hits_btf", &btfHits)
		return btfHits > 0
	})

	// The tc program typed by hand runs as a tc program.
	tc := progOf(t, obj, "hook_tc")
	for size, want := range map[int]uint32{64: 2, 60: 0} {
		res, err := tc.Test(&loader.TestOptions{Data: make([]byte, size)})
		if err != nil {
			t.Fatal(err)
		}
		if res.Retval != want {
			t.Errorf("hook_tc on a %d-byte packet returned %d, want %d", size, res.Retval, want)
		}
	}

	// The cgroup program typed by hand attaches at egress and sees packets.
	l, err := progOf(t, obj, "hook_cg").AttachCgroup(cgroup2Root(t))
	if err != nil {
		t.Fatal(err)
	}
	info, err := l.Info()
	if err != nil {
		t.Fatal(err)
	}
	if ebpf.AttachType(info.AttachType) != ebpf.AttachCGroupInetEgress {
		t.Errorf("cgroup link's attach type %d, want egress", info.AttachType)
	}
	var cgHits uint64
	waitFor(t, "a packet through the cgroup program", func() bool {
		sendUDP(t, 1)
		_ = obj.Global("hits_cg", &cgHits)
		return cgHits > 0
	})

	// The outer map holds maps like its template: the XDP program finds 7 in one.
	outer, err := maps.NewHashOfMaps[uint32](mapOf(t, obj, "outer"))
	if err != nil {
		t.Fatal(err)
	}
	arr, err := maps.NewArray[uint64](inner)
	if err != nil {
		t.Fatal(err)
	}
	if err := arr.Update(0, 7, maps.UpdateAny); err != nil {
		t.Fatal(err)
	}
	if err := outer.Update(0, inner, maps.UpdateAny); err != nil {
		t.Fatal(err)
	}
	res, err := progOf(t, obj, "use_outer").Test(&loader.TestOptions{Data: make([]byte, 64)})
	if err != nil {
		t.Fatal(err)
	}
	if res.Retval != 1 { // XDP_DROP: the inner map's value is 7
		t.Errorf("use_outer returned %d, want XDP_DROP (1)", res.Retval)
	}

	// After Load every setter refuses.
	for name, err := range map[string]error{
		"SetValueSize":          resized.SetValueSize(32),
		"SetKeySize":            resized.SetKeySize(4),
		"SetMaxEntries":         resized.SetMaxEntries(8),
		"SetType":               resized.SetType(ebpf.Hash),
		"SetFlags":              resized.SetFlags(0),
		"SetInnerMap":           mapOf(t, obj, "outer").SetInnerMap(inner),
		"SetProgType":           tc.SetType(ebpf.XDP),
		"SetExpectedAttachType": tc.SetExpectedAttachType(ebpf.AttachNone),
		"SetAttachTarget":       progOf(t, obj, "btf_tp").SetAttachTarget("sys_exit", nil),
	} {
		if !errors.Is(err, loader.ErrAlreadyLoaded) {
			t.Errorf("%s after Load: %v, want ErrAlreadyLoaded", name, err)
		}
	}
	_ = obj.Close()
	if err := resized.SetMaxEntries(8); !errors.Is(err, loader.ErrClosed) {
		t.Errorf("SetMaxEntries after Close: %v, want ErrClosed", err)
	}
	if err := tc.SetType(ebpf.XDP); !errors.Is(err, loader.ErrClosed) {
		t.Errorf("SetType after Close: %v, want ErrClosed", err)
	}
}

// TestSetterValidation: what the kernel would refuse is refused before Load, with the
// rule, and changes nothing.
func TestSetterValidation(t *testing.T) {
	obj := open(t, "realshape.bpf.o", testObject(t, "realshape.bpf.o"), &loader.Options{Logger: discardLogger()})
	stacks, outer := mapOf(t, obj, "stacks"), mapOf(t, obj, "outer")
	bss, err := obj.Map(".bss")
	if err != nil {
		t.Fatal(err)
	}
	unloaded := open(t, "maps.bpf.o", readBPF(t, "testdata/maps/maps.bpf.o"), nil)
	tests := []struct {
		name string
		err  error
		want []string
		is   error
	}{
		{"stack value not a multiple of 8", stacks.SetValueSize(12), []string{"multiple of 8", "12", `"stacks"`}, nil},
		{"stack key not 4", stacks.SetKeySize(8), []string{"4-byte indexes"}, nil},
		{"zero max entries", stacks.SetMaxEntries(0), []string{"must be > 0"}, nil},
		{"zero key size", mapOf(t, obj, "resized").SetKeySize(0), []string{"must be > 0"}, nil},
		{"map type 0", stacks.SetType(ebpf.UnspecifiedMap), []string{"not a Linux map type"}, nil},
		{"inner of a non-map-of-maps", stacks.SetInnerMap(outer), []string{"not a map of maps"}, nil},
		{"nil inner", outer.SetInnerMap(nil), []string{"nil inner map"}, nil},
		{"inner not loaded", outer.SetInnerMap(mapOf(t, unloaded, "a_plain")), []string{"inner map"}, loader.ErrNotLoaded},
		{"global data", bss.SetValueSize(64), []string{"global-data map"}, loader.ErrNotSupported},
		{"program type 0", progOf(t, obj, "hook_tc").SetType(ebpf.UnspecifiedProgram), []string{"not a Linux program type"}, nil},
		{"attach target of xdp", progOf(t, obj, "use_outer").SetAttachTarget("sys_enter", nil), []string{"no BTF attach target"}, nil},
		{"missing target", progOf(t, obj, "btf_tp").SetAttachTarget("bpfkit_no_such_tracepoint", nil), []string{"bpfkit_no_such_tracepoint", "BTF has no"}, syscall.ESRCH},
		{"no target", progOf(t, obj, "btf_tp").SetAttachTarget("", nil), []string{"no function named"}, nil},
	}
	for _, tt := range tests {
		if tt.err == nil {
			t.Errorf("%s: accepted", tt.name)
			continue
		}
		if miss := missingWords(tt.err.Error(), tt.want...); len(miss) > 0 {
			t.Errorf("%s: %q lacks %q", tt.name, tt.err, miss)
		}
		if tt.is != nil && !errors.Is(tt.err, tt.is) {
			t.Errorf("%s: %v does not wrap %v", tt.name, tt.err, tt.is)
		}
	}
	// the section libbpf skips holds no global
	if err := obj.SetGlobal("notes", [10]byte{}); !errors.Is(err, loader.ErrNotFound) {
		t.Errorf("SetGlobal of a variable in a section libbpf skips: %v, want ErrNotFound", err)
	}
	if stacks.ValueSize() != 0 || stacks.MaxEntries() != 0 || stacks.KeySize() != 4 {
		t.Errorf("refused settings changed the map: value %d max %d key %d", stacks.ValueSize(), stacks.MaxEntries(), stacks.KeySize())
	}
	// A ring buffer's size is a power of 2 pages.
	rb := open(t, "maps.bpf.o", readBPF(t, "testdata/maps/maps.bpf.o"), nil)
	rings := 0
	for _, m := range rb.Maps() {
		if m.Type() != ebpf.RingBuf {
			continue
		}
		rings++
		if err := m.SetMaxEntries(3 * 4096); err == nil || !strings.Contains(err.Error(), "power of 2") {
			t.Errorf("ring buffer of 3 pages: %v", err)
		}
		if err := m.SetMaxEntries(4 * uint32(os.Getpagesize())); err != nil {
			t.Errorf("ring buffer of 4 pages: %v", err)
		}
	}
	if rings == 0 {
		t.Fatal("maps.bpf.o has no ring buffer to resize")
	}
}

// TestInfoAfterSetValueSize: a BTF value type whose size a setter changed is no longer
// reported (libbpf creates such a map without BTF types).
func TestInfoAfterSetValueSize(t *testing.T) {
	obj := open(t, "maps.bpf.o", readBPF(t, "testdata/maps/maps.bpf.o"), &loader.Options{Logger: discardLogger()})
	m := mapOf(t, obj, "a_plain")
	if info, _ := m.Info(); info.Value == nil {
		t.Fatal("a_plain has no BTF value type before the setter")
	}
	if err := m.SetValueSize(16); err != nil {
		t.Fatal(err)
	}
	info, _ := m.Info()
	if info.Value != nil || info.Key == nil {
		t.Fatalf("after SetValueSize(16): key %v value %v, want the key's type and no value type", info.Key, info.Value)
	}
	load(t, obj)
	if _, err := maps.NewArray[[16]byte](m); err != nil {
		t.Fatalf("a 16-byte array accessor on the resized map: %v", err)
	}
	if _, err := maps.NewArray[uint64](m); !errors.Is(err, maps.ErrLayout) {
		t.Fatalf("an 8-byte accessor on the 16-byte map: %v, want ErrLayout", err)
	}
}

// waitFor polls cond for up to 3 s.
func waitFor(t *testing.T, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(3 * time.Second)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("no %s within 3s", what)
		}
		time.Sleep(10 * time.Millisecond)
	}
}

// TestSetAttachTargetProgram: a tracing program's target may be a function of a loaded
// program of another object, which may be closed before Load: the program keeps its own
// descriptor of the target until Load, then closes it. (Loading fentry programs needs
// BPF trampolines, which some kernels refuse with EPERM; the load must then fail with
// that, never with a descriptor that went away.)
func TestSetAttachTargetProgram(t *testing.T) {
	inner := innerTemplate(t)
	target := open(t, "realshape.bpf.o", testObject(t, "realshape.bpf.o"), nil)
	realshapeStep(t, target, 7, inner)
	load(t, target)
	xdp := progOf(t, target, "use_outer")

	obj := open(t, "realshape.bpf.o", testObject(t, "realshape.bpf.o"), &loader.Options{Logger: discardLogger()})
	fentry := progOf(t, obj, "maybe_fentry")
	if err := fentry.SetAttachTarget("bpfkit_not_in_it", xdp); err == nil {
		t.Error("a function the target program does not have was accepted")
	}
	before := progFDs(t)
	if err := fentry.SetAttachTarget("use_outer", xdp); err != nil {
		t.Fatal(err)
	}
	if err := fentry.SetAttachTarget("use_outer", xdp); err != nil { // again: the first duplicate is closed
		t.Fatal(err)
	}
	if n := progFDs(t); n != before+1 {
		t.Errorf("%d program descriptors after two SetAttachTarget, want %d (one duplicate of the target)", n, before+1)
	}
	if err := target.Close(); err != nil {
		t.Fatal(err)
	}
	withDup := progFDs(t)
	realshapeStep(t, obj, 7, inner)
	for _, p := range obj.Programs() {
		if err := p.SetAutoload(p.Name() == "maybe_fentry"); err != nil {
			t.Fatal(err)
		}
	}
	err := obj.Load()
	var pe *loader.PrivilegeError
	switch {
	case err == nil:
	case errors.As(err, &pe) && errors.Is(err, syscall.EPERM):
		t.Logf("this kernel refuses fentry programs: %v", err)
	default:
		t.Fatalf("Load of an fentry program on another object's program: %v", err)
	}
	want := withDup - 1 // the duplicate closed
	if err == nil {
		want++ // maybe_fentry loaded
	}
	if n := progFDs(t); n != want {
		t.Errorf("%d program descriptors after Load, want %d: the target's duplicate leaked", n, want)
	}
}

// progFDs counts the process's descriptors of BPF programs.
func progFDs(t *testing.T) int {
	t.Helper()
	ents, err := os.ReadDir("/proc/self/fd")
	if err != nil {
		t.Fatal(err)
	}
	n := 0
	for _, e := range ents {
		if l, err := os.Readlink("/proc/self/fd/" + e.Name()); err == nil && l == "anon_inode:bpf-prog" {
			n++
		}
	}
	return n
}
