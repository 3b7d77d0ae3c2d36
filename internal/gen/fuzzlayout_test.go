// SPDX-License-Identifier: Apache-2.0

package gen_test

import (
	"bytes"
	"fmt"
	"go/types"
	"regexp"
	"testing"

	"github.com/cilium/ebpf/btf"

	"github.com/bpfkit/bpfkit/internal/gen"
	"github.com/bpfkit/bpfkit/internal/gen/testobj"
)

// typeProgram builds BTF types from fuzzed bytes: each op adds a type to a pool made of
// types already in it (structs and unions with members laid out as C would, or at
// offsets the bytes choose; bitfields; arrays; enums; typedefs; qualifiers; pointers;
// integers of odd sizes; a type that refers to itself), so that every input is
// well-formed BTF and the generator's layout, not the BTF parser, meets the bytes.
type typeProgram struct {
	b     []byte
	pool  []btf.Type
	align map[btf.Type]uint32 // of the structs and unions built
}

func (p *typeProgram) next() byte {
	if len(p.b) == 0 {
		return 0
	}
	c := p.b[0]
	p.b = p.b[1:]
	return c
}

func (p *typeProgram) u32() uint32 {
	return uint32(p.next()) | uint32(p.next())<<8 | uint32(p.next())<<16 | uint32(p.next())<<24
}

func (p *typeProgram) pick() btf.Type { return p.pool[int(p.next())%len(p.pool)] }

// layoutNames are the names structs, members, enums and typedefs get: C names, Go
// keywords and the skeleton's own names, names that collide once mangled, and "" for
// anonymous ones.
var layoutNames = []string{"", "", "a", "b", "A", "a_", "_a", "x.y", "pid", "type", "func", "init", "Open", "Maps",
	"Object", "_", "__", "X", "a_2", "set_a", "SetA", "Anon1", "Bitfield1", "bpf_spin_lock", "lock", "BSS", "Data", "Rodata"}

func (p *typeProgram) name() string { return layoutNames[int(p.next())%len(layoutNames)] }

func alignOf(p *typeProgram, t btf.Type) uint32 {
	switch t := t.(type) {
	case *btf.Int:
		return min(max(t.Size, 1), 8)
	case *btf.Enum:
		return min(max(t.Size, 1), 8)
	case *btf.Float:
		return min(max(t.Size, 1), 8)
	case *btf.Pointer:
		return 8
	case *btf.Array:
		return alignOf(p, t.Type)
	case *btf.Typedef:
		return alignOf(p, t.Type)
	case *btf.Const:
		return alignOf(p, t.Type)
	case *btf.Volatile:
		return alignOf(p, t.Type)
	case *btf.Struct, *btf.Union:
		if a, ok := p.align[t]; ok {
			return a
		}
	}
	return 1
}

func sizeOf(t btf.Type) uint32 {
	n, err := btf.Sizeof(t)
	if err != nil || n < 0 {
		return 0
	}
	return uint32(n)
}

func roundUp(n, a uint32) uint32 { return (n + a - 1) / a * a }

// members lays out up to 6 members: each at the next offset C would give it, or a
// bitfield packed after the one before, or at an offset the bytes give.
func (p *typeProgram) members(union bool) ([]btf.Member, uint32, uint32) {
	var ms []btf.Member
	bit, size, align := uint32(0), uint32(0), uint32(1)
	for range int(p.next() % 7) {
		typ := p.pick()
		m := btf.Member{Name: p.name(), Type: typ}
		a, sz := alignOf(p, typ), sizeOf(typ)
		switch mode := p.next(); {
		case union:
		case mode%8 == 6: // a bitfield
			m.BitfieldSize = btf.Bits(1 + p.next()%64)
			if (bit+uint32(m.BitfieldSize)-1)/(8*max(sz, 1)) != bit/(8*max(sz, 1)) {
				bit = roundUp(bit, 8*max(sz, 1)) // C starts a new unit when it would straddle one
			}
			m.Offset = btf.Bits(bit)
			bit += uint32(m.BitfieldSize)
		case mode%8 == 7: // at any byte (or, now and then, any bit)
			m.Offset = btf.Bits(uint32(p.next()) * 8)
			if mode&0x80 != 0 {
				m.Offset = btf.Bits(p.next())
			}
			bit = uint32(m.Offset) + 8*sz
		case mode%8 == 5: // where C would put it, a few bytes on
			bit = roundUp(bit, 8*a) + 8*uint32(1+p.next()%3)
			m.Offset = btf.Bits(bit)
			bit += 8 * sz
		default:
			bit = roundUp(bit, 8*a)
			m.Offset = btf.Bits(bit)
			bit += 8 * sz
		}
		align = max(align, a)
		size = max(size, (bit+7)/8, sz)
		ms = append(ms, m)
	}
	return ms, roundUp(size, align), align
}

func (p *typeProgram) build() []btf.Type {
	u32 := &btf.Int{Name: "unsigned int", Size: 4}
	p.pool = []btf.Type{
		&btf.Int{Name: "unsigned char", Size: 1}, &btf.Int{Name: "char", Size: 1, Encoding: btf.Char | btf.Signed},
		&btf.Int{Name: "short", Size: 2, Encoding: btf.Signed}, u32, &btf.Int{Name: "int", Size: 4, Encoding: btf.Signed},
		&btf.Int{Name: "long long unsigned int", Size: 8}, &btf.Int{Name: "long long int", Size: 8, Encoding: btf.Signed},
		&btf.Int{Name: "_Bool", Size: 1, Encoding: btf.Bool}, &btf.Float{Name: "float", Size: 4}, &btf.Float{Name: "double", Size: 8},
		&btf.Int{Name: "__int128", Size: 16, Encoding: btf.Signed},
	}
	p.align = map[btf.Type]uint32{}
	for range int(p.next() % 16) {
		var t btf.Type
		switch p.next() % 11 {
		case 0:
			n := uint32(p.next() % 9)
			if p.next()%16 == 0 {
				n = p.u32()
			}
			t = &btf.Array{Type: p.pick(), Index: u32, Nelems: n}
		case 1, 2:
			s := &btf.Struct{Name: p.name()}
			var align uint32
			s.Members, s.Size, align = p.members(false)
			if p.next()%8 == 0 {
				s.Size = uint32(p.next()) // packed, or too small
			}
			p.align[s] = align
			t = s
		case 3:
			u := &btf.Union{Name: p.name()}
			var align uint32
			u.Members, u.Size, align = p.members(true)
			p.align[u] = align
			t = u
		case 4:
			e := &btf.Enum{Name: p.name(), Size: []uint32{1, 2, 4, 8, 3}[p.next()%5], Signed: p.next()%2 == 0}
			for range int(p.next() % 4) {
				e.Values = append(e.Values, btf.EnumValue{Name: p.name(), Value: uint64(int64(int8(p.next()))) << (p.next() % 64)})
			}
			t = e
		case 5:
			t = &btf.Typedef{Name: p.name(), Type: p.pick()}
		case 6:
			switch p.next() % 3 {
			case 0:
				t = &btf.Const{Type: p.pick()}
			case 1:
				t = &btf.Volatile{Type: p.pick()}
			default:
				t = &btf.TypeTag{Value: "user", Type: p.pick()}
			}
		case 7:
			t = &btf.Pointer{Target: p.pick()}
		case 8:
			t = &btf.Int{Name: "odd", Size: uint32(p.next() % 17), Encoding: btf.IntEncoding(p.next() % 8)}
		case 9: // a struct that points to itself, or holds itself
			s := &btf.Struct{Name: p.name(), Size: 8}
			var m btf.Type = &btf.Pointer{Target: s}
			if p.next()%4 == 0 {
				m = s
			}
			s.Members = []btf.Member{{Name: "next", Type: m}}
			p.align[s] = 8
			t = s
		default:
			t = &btf.Fwd{Name: p.name()}
		}
		p.pool = append(p.pool, t)
	}

	// one map of the pool's types, and a data section of some of them
	mapTypes := []uint32{1, 2, 5, 6, 9, 10, 11, 12, 13, 22, 23, 27, 30} // hash, array, percpu, lru, lpm, of-maps, queue, stack, ringbuf, bloom
	mt := mapTypes[int(p.next())%len(mapTypes)]
	uintMember := func(v uint32) btf.Type {
		return &btf.Pointer{Target: &btf.Array{Type: u32, Index: u32, Nelems: v}}
	}
	def := &btf.Struct{Size: 32, Members: []btf.Member{
		{Name: "type", Type: uintMember(mt)},
		{Name: "max_entries", Type: uintMember(4), Offset: 64},
		{Name: "key", Type: &btf.Pointer{Target: p.pick()}, Offset: 128},
		{Name: "value", Type: &btf.Pointer{Target: p.pick()}, Offset: 192},
	}}
	types := []btf.Type{&btf.Datasec{Name: ".maps", Size: 32, Vars: []btf.VarSecinfo{{Type: &btf.Var{Name: "m", Type: def, Linkage: btf.GlobalVar}, Size: 32}}}}
	ds := &btf.Datasec{Name: []string{".bss", ".data", ".rodata", ".data.x"}[p.next()%4]}
	off := uint32(0)
	for i := range int(p.next() % 4) {
		typ := p.pick()
		off = roundUp(off, alignOf(p, typ))
		sz := sizeOf(typ)
		ds.Vars = append(ds.Vars, btf.VarSecinfo{Type: &btf.Var{Name: fmt.Sprintf("v%d", i), Type: typ, Linkage: btf.GlobalVar}, Offset: off, Size: sz})
		off += sz
	}
	ds.Size = max(off, 1)
	types = append(types, ds)
	// the pool's named types, for -type
	return append(types, p.pool[11:]...)
}

// FuzzLayout builds BTF types from the bytes (typeProgram) and generates the skeleton of
// an object with a map of two of them, a data section of others, and every one asked
// for with -type. Besides checkOutcome: the map's Go key and value have the BTF's sizes
// (package maps checks them at Open), each section struct covers its section, and each
// member of the key and value that keeps its C name lies at the C offset.
func FuzzLayout(f *testing.F) {
	for _, seed := range [][]byte{
		{},
		{3, 1, 2, 5, 3, 0, 4, 6, 6, 0, 11, 11, 2, 11},      // a struct of three members, as the map's value
		{4, 1, 2, 4, 3, 1, 3, 6, 5, 4, 6, 3, 0, 11, 11, 1}, // bitfields
		{2, 3, 4, 2, 1, 9, 2, 3, 3, 0, 12, 12},             // a union
		{1, 4, 2, 1, 1, 3, 0, 0, 0, 0, 11, 11, 1, 3, 11},   // an enum, and the section
		{1, 9, 1, 0, 11, 11},                               // a struct that holds itself
		{2, 1, 1, 2, 4, 0, 0, 0, 8, 1, 2, 0, 3, 12, 11},    // a packed struct
	} {
		f.Add(seed, false)
	}
	f.Fuzz(func(t *testing.T, prog []byte, big bool) {
		p := &typeProgram{b: prog}
		typs := p.build()
		obj, err := testobj.Object{Types: typs, Programs: []testobj.Program{{Name: "prog", Section: "xdp"}}, BigEndian: big}.Build()
		if err != nil {
			return // not even BTF can say it (a 4-byte enum's 64-bit value)
		}
		var named []string
		for _, typ := range typs[2:] {
			switch typ.(type) {
			case *btf.Struct, *btf.Union, *btf.Enum, *btf.Typedef:
				if name := typ.TypeName(); name != "" {
					named = append(named, name)
				}
			}
		}
		src, err := gen.Generate(gen.Options{Package: "p", ObjectFile: "fuzz.bpf.o", Object: obj, Types: named})
		pkg, file := checkOutcome(t, src, err)
		if err != nil {
			return
		}
		spec, err := btf.LoadSpecFromReader(bytes.NewReader(obj))
		if err != nil {
			t.Fatal(err)
		}
		if err := checkSizes(pkg, file, spec); err != nil {
			t.Fatalf("%v\n%s", err, src)
		}
		def := typs[0].(*btf.Datasec).Vars[0].Type.(*btf.Var).Type.(*btf.Struct)
		obj2, _, _ := types.LookupFieldOrMethod(pkg.Scope().Lookup(mapsTypeName(pkg)).Type(), false, pkg, "M")
		if named, ok := obj2.Type().(*types.Pointer).Elem().(*types.Named); ok && named.TypeArgs().Len() == 2 {
			for i, m := range []int{2, 3} {
				bt := def.Members[m].Type.(*btf.Pointer).Target
				if err := checkOffsets(named.TypeArgs().At(i), bt, 0); err != nil {
					t.Fatalf("%v\n%s", err, src)
				}
			}
		}
	})
}

// generatedName matches the names gen gives fields that have none in C.
var generatedName = regexp.MustCompile(`^(Anon|Bitfield)[0-9]+$`)

// checkOffsets compares the offsets gc gives the fields of a generated struct with the
// BTF's, for each member whose name maps to a field of that exact name (a member that
// collides with another or with a name gen makes up is renamed, and is left out), and
// recurses into them.
func checkOffsets(gt types.Type, bt btf.Type, depth int) error {
	if depth > 8 {
		return nil
	}
	st, ok := btf.UnderlyingType(bt).(*btf.Struct)
	if !ok {
		return nil
	}
	gs, ok := gt.Underlying().(*types.Struct)
	if !ok {
		return nil
	}
	sizes := types.SizesFor("gc", "amd64")
	fields := make([]*types.Var, gs.NumFields())
	for i := range fields {
		fields[i] = gs.Field(i)
	}
	offsets := sizes.Offsetsof(fields)
	count := map[string]int{}
	for _, m := range st.Members {
		count[gen.GoName(m.Name)]++
	}
	for _, m := range st.Members {
		if m.Name == "" || m.BitfieldSize != 0 || count[gen.GoName(m.Name)] > 1 || generatedName.MatchString(gen.GoName(m.Name)) {
			continue
		}
		for i, f := range fields {
			if f.Name() != gen.GoName(m.Name) || f.Embedded() {
				continue
			}
			if want := int64(m.Offset / 8); offsets[i] != want {
				return fmt.Errorf("%s member %s: Go field %s at %d, C at %d", st.Name, m.Name, f.Name(), offsets[i], want)
			}
			if want := int64(sizeOf(m.Type)); sizes.Sizeof(f.Type()) != want {
				return fmt.Errorf("%s member %s: Go field %s is %d bytes, C %d", st.Name, m.Name, f.Name(), sizes.Sizeof(f.Type()), want)
			}
			if err := checkOffsets(f.Type(), m.Type, depth+1); err != nil {
				return err
			}
		}
	}
	return nil
}
