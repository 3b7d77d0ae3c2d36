// SPDX-License-Identifier: Apache-2.0

package maps_test

import (
	"errors"
	"strings"
	"testing"

	"github.com/bpfkit/bpfkit/maps"
	"github.com/cilium/ebpf"
	"github.com/cilium/ebpf/btf"
)

var (
	u16 = &btf.Int{Name: "__u16", Size: 2}
	u32 = &btf.Int{Name: "__u32", Size: 4}
	u64 = &btf.Typedef{Name: "__u64", Type: &btf.Int{Name: "unsigned long long", Size: 8}}
	lck = &btf.Struct{Name: "bpf_spin_lock", Size: 4, Members: []btf.Member{{Name: "val", Type: u32}}}
)

func member(name string, typ btf.Type, off uint32) btf.Member {
	return btf.Member{Name: name, Type: typ, Offset: btf.Bits(off * 8)}
}

func cstruct(name string, size uint32, members ...btf.Member) *btf.Struct {
	return &btf.Struct{Name: name, Size: size, Members: members}
}

func hashInfo(key, value btf.Type, ks, vs uint32) maps.Info {
	return maps.Info{Name: "fake", Type: ebpf.Hash, KeySize: ks, ValueSize: vs, MaxEntries: 1, Key: key, Value: value}
}

// checkNew builds a Hash[uint32, V] on a fake map with the given value BTF.
func checkNew[V any](value btf.Type, size uint32) error {
	_, err := maps.NewHash[uint32, V](fakeMap(hashInfo(u32, value, 4, size)))
	return err
}

type pair struct {
	A uint64
	B uint32
	C uint32
}
type withPtr struct {
	A uint64
	P *int
}
type withString struct{ S string }
type withSlice struct{ S []byte }
type withIface struct{ I any }
type misplaced struct {
	A uint32
	B uint64
}
type twoFields struct {
	A uint64
	B uint64
}
type innerGo struct{ X, Y uint32 }
type outerGo struct {
	In  innerGo
	Arr [3]uint64
}
type outerSwapped struct {
	In struct {
		X uint32
		Y uint16
		_ uint16
	}
	Arr [3]uint64
}
type onlyA struct {
	A uint32
	_ [12]byte
}
type padded struct {
	A uint32
	_ uint32
	B uint64
}
type locked struct {
	Lock maps.SpinLock
	X    uint32
	Y    uint64
}
type lockAsInt struct {
	Lock uint32
	X    uint32
	Y    uint64
}
type bytes16 [16]byte

// Go types for bitfield runs: one storage field per run of C bitfields.
type bitsIn8 struct {
	F uint8
	_ [7]byte
	Y uint64
}
type bitsSigned struct {
	F int64
	Y uint64
}
type bitsTwoRuns struct {
	F  uint8
	_  [3]byte
	GH [2]byte
	_  [2]byte
	Y  uint64
}
type lockAt2 struct {
	A    uint16
	Lock [4]byte
	_    [2]byte
}
type lockAt4AsBytes struct {
	A    uint32
	Lock [4]byte
}
type flexHead struct {
	N uint32
	_ [4]byte
}

func TestLayoutCheck(t *testing.T) {
	cPair := cstruct("pair", 16, member("a", u64, 0), member("b", u32, 8), member("c", u32, 12))
	cSpread := cstruct("spread", 16, member("a", u32, 0), member("b", u32, 4), member("c", u64, 8))
	cInner := cstruct("inner", 8, member("x", u32, 0), member("y", u32, 4))
	cOuter := cstruct("outer", 32, member("in", cInner, 0), member("arr", &btf.Array{Type: u64, Nelems: 3}, 8))
	cOuter4 := cstruct("outer", 32, member("in", cInner, 0), member("arr", &btf.Array{Type: u64, Nelems: 2}, 8), member("tail", u64, 24))
	cLocked := cstruct("locked", 16, member("lock", lck, 0), member("x", u32, 4), member("y", u64, 8))
	cUnion := &btf.Union{Name: "u", Size: 16, Members: []btf.Member{member("a", u64, 0), member("b", cPair, 0)}}
	cBits := cstruct("bits", 16, btf.Member{Name: "f", Type: u32, Offset: 0, BitfieldSize: 3}, member("y", u64, 8))
	// f:3 at bit 0; g:5 at bit 32, h:9 at bit 37 (bytes 4 and 5); y at byte 8
	cBits2 := cstruct("bits2", 16, btf.Member{Name: "f", Type: u32, Offset: 0, BitfieldSize: 3},
		btf.Member{Name: "g", Type: u32, Offset: 32, BitfieldSize: 5}, btf.Member{Name: "h", Type: u32, Offset: 37, BitfieldSize: 9},
		member("y", u64, 8))
	cLockAt2 := cstruct("misaligned", 8, member("a", u16, 0), member("lock", lck, 2))
	cLockAt4 := cstruct("aligned", 8, member("a", u32, 0), member("lock", lck, 4))
	cFlex := cstruct("flex", 8, member("n", u32, 0), member("data", &btf.Array{Type: u64, Nelems: 0}, 8))

	tests := []struct {
		name    string
		err     func() error
		wantErr error    // nil: must succeed
		words   []string // in the message
	}{
		{"match", func() error { return checkNew[pair](cPair, 16) }, nil, nil},
		{"match without BTF", func() error { return checkNew[pair](nil, 16) }, nil, nil},
		{"pointer", func() error { return checkNew[withPtr](nil, 16) }, maps.ErrLayout, []string{"withPtr", `"fake"`, "field P", "ptr"}},
		{"string", func() error { return checkNew[withString](nil, 16) }, maps.ErrLayout, []string{"field S", "string"}},
		{"slice", func() error { return checkNew[withSlice](nil, 24) }, maps.ErrLayout, []string{"field S", "slice"}},
		{"interface", func() error { return checkNew[withIface](nil, 16) }, maps.ErrLayout, []string{"field I", "interface"}},
		{"size", func() error { return checkNew[pair](nil, 24) }, maps.ErrLayout, []string{"pair is 16 bytes", `map "fake" is 24 bytes`}},
		{"key size", func() error {
			_, err := maps.NewHash[uint64, pair](fakeMap(hashInfo(nil, nil, 4, 16)))
			return err
		}, maps.ErrLayout, []string{"key type uint64 is 8 bytes"}},
		{"offset", func() error { return checkNew[misplaced](cSpread, 16) }, maps.ErrLayout,
			[]string{"misplaced", `"fake"`, "field B:", "offsets differ", "Go offset 8", "BTF offset 4"}},
		{"field kinds", func() error { return checkNew[twoFields](cSpread, 16) }, maps.ErrLayout,
			[]string{"field A:", "sizes differ", "Go offset 0", "BTF offset 0"}},
		{"nested match", func() error { return checkNew[outerGo](cOuter, 32) }, nil, nil},
		{"nested field", func() error { return checkNew[outerSwapped](cOuter, 32) }, maps.ErrLayout,
			[]string{"field In.Y:", "Go offset 4", "BTF offset 4", "sizes differ"}},
		{"array size", func() error { return checkNew[outerGo](cOuter4, 32) }, maps.ErrLayout,
			[]string{"field Arr:", "sizes differ", "Go offset 8", "BTF offset 8"}},
		{"padding fields", func() error { return checkNew[padded](cstruct("p", 16, member("a", u32, 0), member("b", u64, 8)), 16) }, nil, nil},
		{"explicit C pad", func() error { return checkNew[padded](cSpread, 16) }, nil, nil},
		{"missing member", func() error { return checkNew[onlyA](cSpread, 16) }, maps.ErrLayout, []string{"field b:", "Go has 1 fields, C has 3", "BTF offset 4"}},
		{"array length", func() error {
			return checkNew[[4]uint32](cstruct("a", 16, member("a", &btf.Array{Type: u64, Nelems: 2}, 0)), 16)
		}, maps.ErrLayout, []string{"C struct, Go array"}},
		{"array elements", func() error { return checkNew[[4]uint32](&btf.Array{Type: u64, Nelems: 2}, 16) }, maps.ErrLayout,
			[]string{"C array of 2 elements, Go array of 4"}},
		{"lock", func() error { return checkNew[locked](cLocked, 16) }, nil, nil},
		{"lock as uint32", func() error { return checkNew[lockAsInt](cLocked, 16) }, maps.ErrLayout,
			[]string{"field Lock:", "must be a maps.SpinLock"}},
		{"SpinLock where C has none", func() error { return checkNew[locked](cSpread, 16) }, maps.ErrLayout,
			[]string{"field Lock (C a)", "not struct bpf_spin_lock"}},
		{"bytes for a union", func() error { return checkNew[bytes16](cUnion, 16) }, nil, nil},
		{"struct for a union", func() error { return checkNew[pair](cUnion, 16) }, nil, nil},
		{"bitfield in a storage unit", func() error { return checkNew[twoFields](cBits, 16) }, nil, nil},
		{"bitfield in a byte", func() error { return checkNew[bitsIn8](cBits, 16) }, nil, nil},
		{"bitfield as bytes", func() error { return checkNew[bytes16](cBits, 16) }, nil, nil},
		{"bitfield in a signed field", func() error { return checkNew[bitsSigned](cBits, 16) }, maps.ErrLayout, []string{"bitfield f", "unsigned integer or byte array"}},
		{"two bitfield runs", func() error { return checkNew[bitsTwoRuns](cBits2, 16) }, nil, nil},
		{"storage misses a bitfield's bits", func() error { return checkNew[bitsIn8](cBits2, 16) }, maps.ErrLayout, []string{"bitfield g", "does not cover"}},
		{"misaligned lock as bytes", func() error { return checkNew[lockAt2](cLockAt2, 8) }, nil, nil},
		{"aligned lock as bytes", func() error { return checkNew[lockAt4AsBytes](cLockAt4, 8) }, maps.ErrLayout, []string{"must be a maps.SpinLock"}},
		{"flexible array member left out", func() error { return checkNew[flexHead](cFlex, 8) }, nil, nil},
		{"wrong map type", func() error {
			info := hashInfo(u32, cPair, 4, 16)
			info.Type = ebpf.Array
			_, err := maps.NewHash[uint32, pair](fakeMap(info))
			return err
		}, maps.ErrMapType, []string{"maps.NewHash", `"fake"`, "Array"}},
		{"nil map", func() error { _, err := maps.NewHash[uint32, pair](nil); return err }, nil, []string{"nil map"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			err := tt.err()
			if tt.wantErr == nil && tt.words == nil {
				if err != nil {
					t.Fatalf("unexpected error: %v", err)
				}
				return
			}
			if err == nil {
				t.Fatal("no error")
			}
			if tt.wantErr != nil && !errors.Is(err, tt.wantErr) {
				t.Fatalf("error %q is not %v", err, tt.wantErr)
			}
			for _, w := range tt.words {
				if !strings.Contains(err.Error(), w) {
					t.Errorf("error %q does not mention %q", err, w)
				}
			}
		})
	}
}

func TestLayoutDatasec(t *testing.T) {
	sec := &btf.Datasec{Name: ".bss", Size: 16, Vars: []btf.VarSecinfo{
		{Type: &btf.Var{Name: "runs", Type: u64}, Offset: 0, Size: 8},
		{Type: &btf.Var{Name: "flags", Type: u32}, Offset: 12, Size: 4},
	}}
	info := maps.Info{Name: "obj.bss", Type: ebpf.Array, KeySize: 4, ValueSize: 16, MaxEntries: 1, Value: sec}
	type good struct {
		Runs  uint64
		_     uint32
		Flags uint32
	}
	type bad struct {
		Runs  uint64
		Flags uint32
		_     uint32
	}
	if _, err := maps.NewArray[good](fakeMap(info)); err != nil {
		t.Fatal(err)
	}
	_, err := maps.NewArray[bad](fakeMap(info))
	wantErr(t, err, maps.ErrLayout)
	for _, w := range []string{`"obj.bss"`, "field Flags:", "Go offset 8", "BTF offset 12"} {
		if !strings.Contains(err.Error(), w) {
			t.Errorf("error %q does not mention %q", err, w)
		}
	}

	// A lock in a section (its own .bss.A, docs/SPINLOCK.md G3) makes the *Locked operations usable.
	lsec := &btf.Datasec{Name: ".bss.A", Size: 16, Vars: []btf.VarSecinfo{
		{Type: &btf.Var{Name: "lock", Type: lck}, Offset: 0, Size: 4},
		{Type: &btf.Var{Name: "n", Type: u64}, Offset: 8, Size: 8},
	}}
	info.Value = lsec
	a, err := maps.NewArray[struct {
		L maps.SpinLock
		_ uint32
		N uint64
	}](fakeMap(info))
	if err != nil || !a.HasLock() {
		t.Fatalf("lock in a DATASEC: HasLock=%v err=%v", a != nil && a.HasLock(), err)
	}
}

func TestLockFoundInNestedStruct(t *testing.T) {
	inner := cstruct("in", 8, member("n", u32, 0), member("lock", lck, 4))
	v := cstruct("v", 16, member("x", u64, 0), member("in", inner, 8))
	type in struct {
		N    uint32
		Lock maps.SpinLock
	}
	type val struct {
		X  uint64
		In in
	}
	h, err := maps.NewHash[uint32, val](fakeMap(hashInfo(u32, v, 4, 16)))
	if err != nil || !h.HasLock() {
		t.Fatalf("HasLock=%v err=%v", h != nil && h.HasLock(), err)
	}
	h2, err := maps.NewHash[uint32, pair](fakeMap(hashInfo(u32, cstruct("pair", 16, member("a", u64, 0), member("b", u32, 8), member("c", u32, 12)), 4, 16)))
	if err != nil || h2.HasLock() {
		t.Fatalf("a value without a lock: HasLock=%v err=%v", h2 != nil && h2.HasLock(), err)
	}
}

func TestTwoLocksMeanNone(t *testing.T) {
	v := cstruct("two", 8, member("a", lck, 0), member("b", lck, 4))
	type two struct{ A, B maps.SpinLock }
	h, err := maps.NewHash[uint32, two](fakeMap(hashInfo(u32, v, 4, 8)))
	if err != nil {
		t.Fatal(err)
	}
	if h.HasLock() {
		t.Fatal("a value with two locks reported as lockable (the kernel finds no valid lock)")
	}
	_, err = h.LookupLocked(0)
	wantErr(t, err, maps.ErrNoLock)
}

func TestAccessorMapTypes(t *testing.T) {
	for _, tt := range []struct {
		name string
		typ  ebpf.MapType
		make func(maps.Map) error
	}{
		{"NewArray", ebpf.Array, func(m maps.Map) error { _, err := maps.NewArray[uint64](m); return err }},
		{"NewLRUHash", ebpf.LRUHash, func(m maps.Map) error { _, err := maps.NewLRUHash[uint32, uint64](m); return err }},
		{"NewPerCPUHash", ebpf.PerCPUHash, func(m maps.Map) error { _, err := maps.NewPerCPUHash[uint32, uint64](m); return err }},
		{"NewPerCPUArray", ebpf.PerCPUArray, func(m maps.Map) error { _, err := maps.NewPerCPUArray[uint64](m); return err }},
		{"NewLRUPerCPUHash", ebpf.LRUCPUHash, func(m maps.Map) error { _, err := maps.NewLRUPerCPUHash[uint32, uint64](m); return err }},
		{"NewQueue", ebpf.Queue, func(m maps.Map) error { _, err := maps.NewQueue[uint64](m); return err }},
		{"NewStack", ebpf.Stack, func(m maps.Map) error { _, err := maps.NewStack[uint64](m); return err }},
		{"NewLPMTrie", ebpf.LPMTrie, func(m maps.Map) error { _, err := maps.NewLPMTrie[uint32, uint64](m); return err }},
		{"NewBloomFilter", ebpf.BloomFilter, func(m maps.Map) error { _, err := maps.NewBloomFilter[uint64](m); return err }},
		{"NewHashOfMaps", ebpf.HashOfMaps, func(m maps.Map) error { _, err := maps.NewHashOfMaps[uint32](m); return err }},
		{"NewArrayOfMaps", ebpf.ArrayOfMaps, func(m maps.Map) error { _, err := maps.NewArrayOfMaps(m); return err }},
		{"NewRingBuf", ebpf.RingBuf, func(m maps.Map) error { _, err := maps.NewRingBuf[uint64](m); return err }},
		{"NewPerfBuf", ebpf.PerfEventArray, func(m maps.Map) error { _, err := maps.NewPerfBuf[uint64](m, 1); return err }},
	} {
		info := maps.Info{Name: "fake", Type: ebpf.Hash, KeySize: 4, ValueSize: 8, MaxEntries: 1}
		err := tt.make(fakeMap(info))
		if !errors.Is(err, maps.ErrMapType) || !strings.Contains(err.Error(), tt.name) {
			t.Errorf("%s on a hash map: %v, want ErrMapType naming the accessor", tt.name, err)
		}
	}
}
