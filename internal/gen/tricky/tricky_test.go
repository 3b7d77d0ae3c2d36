// SPDX-License-Identifier: Apache-2.0

package tricky

import (
	"encoding/binary"
	"errors"
	"slices"
	"testing"

	"github.com/bpfkit/bpfkit/internal/testutil"
	"github.com/bpfkit/bpfkit/loader"
	"github.com/bpfkit/bpfkit/maps"
)

// load opens and loads the skeleton with its section variables set from Go.
func load(t *testing.T) *Tricky {
	t.Helper()
	testutil.RequirePrivileged(t)
	s, err := Open(nil)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { s.Close() })
	ro := s.Rodata()
	ro.Limit = 100
	if err := s.SetRodata(ro); err != nil {
		t.Fatal(err)
	}
	s.Data.Level = 20
	s.DataCustom.Custom = 3
	s.BSS.Counter = 1000
	if err := s.Load(); err != nil {
		t.Fatal(err)
	}
	return s
}

// TestKernelWritesGoReads runs the C program `fill`, which stores known values in every
// tricky layout, and reads them back through the generated types: each offset, bit,
// union member and padding decision of the generator is checked against clang's.
func TestKernelWritesGoReads(t *testing.T) {
	s := load(t)
	if _, err := s.Programs.Fill.Test(nil); err != nil {
		t.Fatal(err)
	}

	v, err := s.Maps.Values.LookupLocked(1)
	if err != nil {
		t.Fatal(err)
	}
	check := func(what string, got, want any) {
		t.Helper()
		if got != want {
			t.Errorf("%s = %#v, want %#v", what, got, want)
		}
	}
	check("kind", v.Kind, uint8(9))
	check("st", v.St, StateDone)
	check("total", v.Total, uint64(0x0102030405060708))
	check("items[2]", v.Items[2], Inner{A: 0xaaaa, B: 0xbb, C: 0xcccccccc})
	check("items[0]", v.Items[0], Inner{})
	parts := v.Addr.Parts()
	check("addr.parts.port", parts.Port, uint16(0x1234))
	check("addr.parts.family", parts.Family, uint16(10))
	check("addr.v4", v.Addr.V4(), uint32(10)<<16|0x1234)
	fl, err := s.Maps.FlagMap.Lookup(1)
	if err != nil {
		t.Fatal(err)
	}
	check("fl.ready", fl.Ready(), uint32(1))
	check("fl.mode", fl.Mode(), uint32(5))
	check("fl.level", fl.Level(), int32(-3))
	check("fl.on", fl.On(), true)
	check("fl.st", fl.St(), StateDone)
	check("fl.tag", fl.Tag, uint8(0x7e))
	check("fl.big", fl.Big(), uint64(0x12345678ab))
	check("fl.neg", fl.Neg(), int64(-70000))
	// the anonymous union and its anonymous struct are embedded: C's v.lo is v.Anon1().Lo
	check("raw", v.Raw(), uint64(0xfeedface)<<32|0xdeadbeef)
	check("lo", v.Anon1().Lo, uint32(0xdeadbeef))
	check("hi", v.Anon1().Hi, uint32(0xfeedface))
	check("point", v.Point, TrickyValuePoint{X: 11, Y: 22})
	check("name", string(v.Name[:12]), "twelve chars")

	p, err := s.Maps.Packed.Lookup(1)
	if err != nil {
		t.Fatal(err)
	}
	check("packed.a", p.A, uint8(0xa1))
	check("packed.b", binary.NativeEndian.Uint32(p.B[:]), uint32(0xb2b3b4b5))
	check("packed.c", binary.NativeEndian.Uint16(p.C[:]), uint16(0xc6c7))

	per, err := s.Maps.PerCpu.Lookup(0)
	if err != nil {
		t.Fatal(err)
	}
	if !slices.ContainsFunc(per, func(x TdefT) bool { return x.Id == 42 && x.D == DeltaDown }) {
		t.Errorf("per_cpu: no CPU holds {42, DELTA_DOWN}: %+v", per)
	}
	in, err := s.Maps.Queue.Pop()
	if err != nil {
		t.Fatal(err)
	}
	check("queue", in, Inner{A: 0x1111, B: 0x22, C: 0x33333333})

	c, err := s.Maps.Collided.Lookup(0)
	if err != nil {
		t.Fatal(err)
	}
	check("collide.my_pid", c.MyPid, int32(1))
	check("collide.myPid", c.MyPid_2, int32(2))
	check("collide.set_a", c.SetA, int32(3))
	check("collide.a", c.A(), int32(-2))

	// .bss: what fill added (limit 100 + custom 3 + level 20, set from Go before Load) to
	// the counter set from Go, seen through the live mapping; bss_flags copied from C
	check("bss.counter", s.BSS.Counter, uint64(1000+100+3+20))
	check("bss.bss_flags", s.BSS.BssFlags, fl)
}

// TestGoWritesKernelReads goes the other way: values built with the generated setters are
// stored from Go, and the program `count` takes the value's lock and increments total.
func TestGoWritesKernelReads(t *testing.T) {
	s := load(t)
	var v TrickyValue
	v.Total = 41
	v.SetRaw(0x1122334455667788)
	v.Addr.SetParts(AddrParts{Port: 80, Family: 2})
	if err := s.Maps.Values.UpdateLocked(1, v, maps.UpdateAny); err != nil {
		t.Fatal(err)
	}
	if _, err := s.Programs.Count.Test(&loader.TestOptions{Data: make([]byte, 64)}); err != nil {
		t.Fatal(err)
	}
	got, err := s.Maps.Values.LookupLocked(1)
	if err != nil {
		t.Fatal(err)
	}
	if got.Total != 42 {
		t.Errorf("total = %d, want 42 (the program's increment under the lock)", got.Total)
	}
	if got.Anon1().Lo != 0x55667788 || got.Anon1().Hi != 0x11223344 {
		t.Errorf("union: lo %#x hi %#x", got.Anon1().Lo, got.Anon1().Hi)
	}
	if got.Addr.V4() != 2<<16|80 {
		t.Errorf("addr.v4 = %#x", got.Addr.V4())
	}

	// bitfields set from Go, read by C: fill copies flag_map[0] to flag_map[1] with its
	// level incremented (a signed 4-bit field: -8 + 1 = -7 shows C sign-extends it too)
	var fl Flags
	fl.SetLevel(-8)
	fl.SetMode(7)
	fl.SetOn(true)
	fl.SetSt(StateRunning)
	fl.SetNeg(-1)
	fl.SetBig(1<<40 - 1)
	fl.Tag = 3
	if err := s.Maps.FlagMap.Update(0, fl, maps.UpdateAny); err != nil {
		t.Fatal(err)
	}

	// the live .bss: a write from Go is what the program adds to
	s.BSS.Counter = 5
	if _, err := s.Programs.Fill.Test(nil); err != nil {
		t.Fatal(err)
	}
	if s.BSS.Counter != 5+100+3+20 {
		t.Errorf("bss.counter = %d after a Go write of 5 and one run", s.BSS.Counter)
	}
	c, err := s.Maps.FlagMap.Lookup(1)
	if err != nil {
		t.Fatal(err)
	}
	if c.Level() != -7 || c.Mode() != 7 || !c.On() || c.St() != StateRunning || c.Neg() != -1 || c.Big() != 1<<40-1 || c.Ready() != 0 || c.Tag != 3 {
		t.Errorf("bitfields set from Go, as C saw them: ready %d mode %d level %d on %v st %d tag %d big %#x neg %d",
			c.Ready(), c.Mode(), c.Level(), c.On(), c.St(), c.Tag, c.Big(), c.Neg())
	}
}

// TestRodataFrozen: after Load, .rodata is the kernel's frozen copy: Rodata returns the
// values set before Load, and a write is an error, never lost silently.
func TestRodataFrozen(t *testing.T) {
	s := load(t)
	ro := s.Rodata()
	if ro.Limit != 100 {
		t.Errorf("rodata.limit = %d, want the 100 set before Load", ro.Limit)
	}
	if string(ro.Label[:3]) != "hey" || ro.Target.V4() != 0x0100007f {
		t.Errorf("rodata initial values lost: %q %#x", ro.Label, ro.Target.V4())
	}
	ro.Limit = 5
	if err := s.SetRodata(ro); !errors.Is(err, loader.ErrReadOnly) {
		t.Errorf("SetRodata after Load: %v, want ErrReadOnly", err)
	}
	if got := s.Rodata().Limit; got != 100 {
		t.Errorf("after the refused SetRodata, Rodata().Limit = %d, want 100", got)
	}
	var kernel Rodata
	if err := s.Object.ReadSection(".rodata", &kernel); err != nil || kernel != s.Rodata() {
		t.Errorf("the kernel's .rodata %+v (%v) differs from Rodata() %+v", kernel, err, s.Rodata())
	}
}

// TestCloseKeepsSections: after Close the live section structs still hold their last
// values (the kernel's memory is detached, not unmapped from under them).
func TestCloseKeepsSections(t *testing.T) {
	s := load(t)
	bss := s.BSS
	bss.Counter = 77
	if err := s.Close(); err != nil {
		t.Fatal(err)
	}
	if err := s.Close(); err != nil {
		t.Errorf("second Close: %v", err)
	}
	if bss.Counter != 77 || s.BSS.Counter != 77 {
		t.Errorf("after Close the counter reads %d / %d, want 77", bss.Counter, s.BSS.Counter)
	}
	bss.Counter++ // ordinary memory now: no fault
	if _, err := s.Maps.Values.Lookup(1); !errors.Is(err, loader.ErrClosed) {
		t.Errorf("map lookup after Close: %v, want ErrClosed", err)
	}
}
