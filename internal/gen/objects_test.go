// SPDX-License-Identifier: Apache-2.0

package gen_test

import (
	"github.com/cilium/ebpf/btf"

	"github.com/bpfkit/bpfkit/internal/gen/testobj"
)

// objNames are the names an object gives, one for each place gen reads a name from.
type objNames struct {
	Struct, Member, Bitfield, Union, UnionMember, Enum, EnumValue, Typedef string
	Map, Var, Section, Program, ProgSection                                string
}

// plainNames are the names of a well-behaved object.
var plainNames = objNames{
	Struct: "event", Member: "pid", Bitfield: "flag", Union: "addr", UnionMember: "v4",
	Enum: "state", EnumValue: "STATE_IDLE", Typedef: "event_t",
	Map: "events", Var: "my_pid", Section: ".data", Program: "handle", ProgSection: "tp/syscalls/sys_enter_write",
}

// namedObject is an object with one name in each place: a hash map whose value is a
// typedef of a struct with a plain member, a bitfield, a union and an enum; a variable
// in a data section; a program.
func namedObject(n objNames, bigEndian bool) ([]byte, error) {
	enum := &btf.Enum{Name: n.Enum, Size: 4, Values: []btf.EnumValue{{Name: n.EnumValue, Value: 1}}}
	union := &btf.Union{Name: n.Union, Size: 4, Members: []btf.Member{{Name: n.UnionMember, Type: u32}}}
	value := &btf.Struct{Name: n.Struct, Size: 16, Members: []btf.Member{
		{Name: n.Member, Type: u32},
		{Name: n.Bitfield, Type: u32, Offset: 32, BitfieldSize: 3},
		{Name: "u", Type: union, Offset: 64},
		{Name: "e", Type: enum, Offset: 96},
	}}
	td := &btf.Typedef{Name: n.Typedef, Type: value}
	mapsSec := &btf.Datasec{Name: ".maps", Size: 32, Vars: []btf.VarSecinfo{
		{Type: &btf.Var{Name: n.Map, Type: hashDef(u32, td), Linkage: btf.GlobalVar}, Size: 32},
	}}
	data := &btf.Datasec{Name: n.Section, Size: 4, Vars: []btf.VarSecinfo{
		{Type: &btf.Var{Name: n.Var, Type: s32, Linkage: btf.GlobalVar}, Size: 4},
	}}
	return testobj.Object{
		Types:     []btf.Type{mapsSec, data},
		Programs:  []testobj.Program{{Name: n.Program, Section: n.ProgSection}},
		BigEndian: bigEndian,
	}.Build()
}

var (
	u32 = &btf.Int{Name: "unsigned int", Size: 4}
	s32 = &btf.Int{Name: "int", Size: 4, Encoding: btf.Signed}
)

// hashDef is the BTF of a BPF_MAP_TYPE_HASH's definition in .maps (32 bytes):
// __uint(type, …), __uint(max_entries, 16), __type(key, …), __type(value, …).
func hashDef(key, value btf.Type) *btf.Struct {
	uintMember := func(v uint32) btf.Type {
		return &btf.Pointer{Target: &btf.Array{Type: s32, Index: u32, Nelems: v}}
	}
	return &btf.Struct{Size: 32, Members: []btf.Member{
		{Name: "type", Type: uintMember(1)},
		{Name: "max_entries", Type: uintMember(16), Offset: 64},
		{Name: "key", Type: &btf.Pointer{Target: key}, Offset: 128},
		{Name: "value", Type: &btf.Pointer{Target: value}, Offset: 192},
	}}
}

// valueObject is an object with one hash map, "values", of u32 keys and the given values.
func valueObject(value btf.Type) ([]byte, error) {
	return testobj.Object{Types: []btf.Type{&btf.Datasec{Name: ".maps", Size: 32, Vars: []btf.VarSecinfo{
		{Type: &btf.Var{Name: "values", Type: hashDef(u32, value), Linkage: btf.GlobalVar}, Size: 32},
	}}}}.Build()
}

// sectionObject is an object whose .data section holds one variable, "v", of the type.
func sectionObject(typ btf.Type, size uint32) ([]byte, error) {
	return testobj.Object{Types: []btf.Type{&btf.Datasec{Name: ".data", Size: size, Vars: []btf.VarSecinfo{
		{Type: &btf.Var{Name: "v", Type: typ, Linkage: btf.GlobalVar}, Size: size},
	}}}}.Build()
}
