// SPDX-License-Identifier: Apache-2.0

package gen_test

import (
	"go/types"
	"strings"
	"testing"

	"github.com/cilium/ebpf/btf"

	"github.com/bpfkit/bpfkit/internal/gen"
	"github.com/bpfkit/bpfkit/internal/testutil"
)

// TestBadLayouts gives gen BTF no compiler writes, each of which it once turned into a
// crash (a typedef loop recursed until the stack ran out), into Go that does not compile
// (a struct that contains itself, an enum value its type cannot hold, a bitfield wider
// than its type) or into a silently wrong layout (members that overlap, lie past the
// end or off a byte, a union member not at 0, an array whose size overflows). gen must
// refuse each with an error that says what is wrong.
func TestBadLayouts(t *testing.T) {
	loop := &btf.Typedef{Name: "loop"}
	loop.Type = loop
	self := &btf.Struct{Name: "self", Size: 8}
	self.Members = []btf.Member{{Name: "again", Type: self}}
	viaArray := &btf.Struct{Name: "via_array", Size: 8}
	viaArray.Members = []btf.Member{{Name: "arr", Type: &btf.Array{Type: viaArray, Index: u32, Nelems: 1}}}
	u8 := &btf.Int{Name: "unsigned char", Size: 1}
	i128 := &btf.Int{Name: "__int128", Size: 16, Encoding: btf.Signed}
	for _, c := range []struct {
		name    string
		typ     btf.Type
		section bool // as a section variable, not a map value
		err     string
	}{
		{"typedef loop", loop, true, "types nest more than 64 deep"},
		{"struct in itself", self, false, "struct self contains itself"},
		{"struct in itself through an array", viaArray, false, "struct via_array contains itself"},
		{"overlap", &btf.Struct{Name: "ov", Size: 8, Members: []btf.Member{{Name: "a", Type: u32}, {Name: "b", Type: u32, Offset: 16}}}, false,
			`member "b" at byte 2 overlaps the member before it, which ends at byte 4`},
		{"out of order", &btf.Struct{Name: "ooo", Size: 8, Members: []btf.Member{{Name: "a", Type: u32, Offset: 32}, {Name: "b", Type: u32}}}, false,
			`member "b" at byte 0 overlaps`},
		{"past the end", &btf.Struct{Name: "pe", Size: 4, Members: []btf.Member{{Name: "a", Type: u32, Offset: 32}}}, false,
			`member "a" (4 bytes at byte 4) lies past the end of the 4-byte type`},
		{"member larger than the struct", &btf.Struct{Name: "big", Size: 2, Members: []btf.Member{{Name: "a", Type: u32}}}, false,
			`member "a" (4 bytes at byte 0) lies past the end of the 2-byte type`},
		{"off a byte", &btf.Struct{Name: "ob", Size: 8, Members: []btf.Member{{Name: "a", Type: u32, Offset: 3}}}, false,
			`member "a" is at bit 3, not at a whole byte`},
		{"enum value too big", &btf.Enum{Name: "e8", Size: 1, Values: []btf.EnumValue{{Name: "E_BIG", Value: 300}}}, true,
			"enum e8: value E_BIG = 300 does not fit in its 1 bytes"},
		{"signed enum value too small", &btf.Enum{Name: "es", Size: 1, Signed: true, Values: []btf.EnumValue{{Name: "E_NEG", Value: uint64(0xffffffffffffff00)}}}, true,
			"enum es: value E_NEG = -256 does not fit in its 1 bytes"},
		{"enum of 3 bytes", &btf.Enum{Name: "e3", Size: 3}, true, "enum e3 has 3 bytes"},
		{"bitfield wider than its type", &btf.Struct{Name: "bw", Size: 8, Members: []btf.Member{{Name: "f", Type: u8, BitfieldSize: 12}}}, false,
			`bitfield "f" is 12 bits of a 1-byte`},
		{"bitfield of a 16-byte int", &btf.Struct{Name: "b16", Size: 16, Members: []btf.Member{{Name: "f", Type: i128, BitfieldSize: 3}}}, false,
			`bitfield "f" is 3 bits of a 16-byte`},
		{"union member not at 0", &btf.Union{Name: "um", Size: 8, Members: []btf.Member{{Name: "a", Type: u32, Offset: 32}}}, true,
			`union um member "a" is at bit 32`},
		{"array size overflow", &btf.Array{Type: u32, Index: u32, Nelems: 1 << 31}, true, "larger than a BTF type can be"},
		{"spin lock of 8 bytes", &btf.Struct{Name: "bpf_spin_lock", Size: 8, Members: []btf.Member{{Name: "val", Type: u32}}}, false,
			"struct bpf_spin_lock is 8 bytes, not 4"},
	} {
		t.Run(c.name, func(t *testing.T) {
			var obj []byte
			var err error
			if c.section {
				obj, err = sectionObject(c.typ, 16)
			} else {
				obj, err = valueObject(c.typ)
			}
			if err != nil {
				t.Fatal(err)
			}
			src, err := gen.Generate(gen.Options{Package: "p", ObjectFile: "bad.bpf.o", Object: obj})
			if err == nil {
				t.Fatalf("no error; generated:\n%s", src)
			}
			if !strings.Contains(err.Error(), c.err) || !strings.HasPrefix(err.Error(), "bad.bpf.o: ") {
				t.Errorf("error %q lacks %q", err, c.err)
			}
		})
	}
}

// TestWeakStrongVariable: in an object linked from parts that define a variable __weak in
// one and strong in the other, the generated section struct puts the variable where its
// ELF symbol says, which is where the code reads it (the DATASEC entry stays at the weak
// copy's offset). Before, the field sat at the DATASEC's offset, and a value set through
// the skeleton never reached the program.
func TestWeakStrongVariable(t *testing.T) {
	elf, dsOff, symOff := testutil.WeakStrongObject(t)
	src, err := gen.Generate(gen.Options{Package: "p", ObjectFile: "fuzz.bpf.o", Object: elf})
	pkg, _ := checkOutcome(t, src, err)
	if err != nil {
		t.Fatal(err)
	}
	obj := pkg.Scope().Lookup("Rodata")
	if obj == nil {
		t.Fatalf("no type Rodata in\n%s", src)
	}
	st, ok := obj.Type().Underlying().(*types.Struct)
	if !ok {
		t.Fatalf("Rodata is %s, not a struct", obj.Type().Underlying())
	}
	var fields []*types.Var
	for i := range st.NumFields() {
		fields = append(fields, st.Field(i))
	}
	offsets := types.SizesFor("gc", "amd64").Offsetsof(fields)
	for i, f := range fields {
		if f.Name() == "Level" {
			if offsets[i] != int64(symOff) {
				t.Fatalf("Rodata.Level at offset %d, want the symbol's %d (the DATASEC entry says %d)\n%s", offsets[i], symOff, dsOff, src)
			}
			return
		}
	}
	t.Fatalf("Rodata has no field Level\n%s", src)
}
