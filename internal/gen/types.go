// SPDX-License-Identifier: Apache-2.0

package gen

import (
	"errors"
	"fmt"
	"math"
	"strings"

	"github.com/cilium/ebpf/btf"
)

// goType is a Go type expression with the size and alignment Go gives it on 64-bit
// platforms. Every generated struct carries explicit padding taken from the BTF offsets,
// so alignment only decides whether a field can keep its natural type (see layout).
type goType struct {
	expr  string
	size  uint32
	align uint32
}

func bytesType(n uint32) goType { return goType{fmt.Sprintf("[%d]byte", n), n, 1} }

// typeGen turns BTF types into Go declarations. Named C types keep their names (mangled
// by GoName); anonymous ones are named after where they are first met (a typedef, or the
// enclosing type and its field). Declarations come out in the order they are first
// needed, each type before the types it contains.
type typeGen struct {
	pkg     *scope
	order   binaryOrder
	named   map[btf.Type]goType // BTF struct/union/enum → its declared Go type
	pending map[btf.Type]bool   // being declared: met again by value, it contains itself
	depth   int                 // typeOf calls in progress
	decls   []string
	uses    map[string]bool // imports ("maps", "unsafe") and helpers ("asBytes", "bits")
}

func newTypeGen(pkg *scope, order binaryOrder) *typeGen {
	return &typeGen{pkg: pkg, order: order, named: map[btf.Type]goType{}, pending: map[btf.Type]bool{}, uses: map[string]bool{}}
}

// maxDepth bounds how deeply types may nest in one another by value (members, array
// elements, typedefs and qualifiers): far more than any C program's, and a bound on the
// generator's recursion whatever the BTF says (it may even loop).
const maxDepth = 64

// errUnsized is returned for a type Go cannot hold by value (void, functions, forward
// declarations).
var errUnsized = errors.New("type has no size, so it cannot be held by value")

// typeOf returns the Go type standing for t. hint names t when t is an anonymous struct,
// union or enum that needs a declaration.
func (g *typeGen) typeOf(t btf.Type, hint string) (goType, error) {
	if g.depth >= maxDepth {
		return goType{}, fmt.Errorf("%s: types nest more than %d deep (or the BTF loops)", t, maxDepth)
	}
	g.depth++
	defer func() { g.depth-- }()
	switch t := t.(type) {
	case *btf.Typedef:
		// integer typedefs (__u32, pid_t …) are their integer; a typedef of an anonymous
		// struct, union or enum gives it its name
		if err := checkCName("typedef", t.Name); err != nil {
			return goType{}, err
		}
		return g.typeOf(t.Type, GoName(t.Name))
	case *btf.Const:
		return g.typeOf(t.Type, hint)
	case *btf.Volatile:
		return g.typeOf(t.Type, hint)
	case *btf.Restrict:
		return g.typeOf(t.Type, hint)
	case *btf.TypeTag:
		return g.typeOf(t.Type, hint)
	case *btf.Int:
		return intType(t), nil
	case *btf.Float:
		switch t.Size {
		case 4:
			return goType{"float32", 4, 4}, nil
		case 8:
			return goType{"float64", 8, 8}, nil
		}
		return bytesType(t.Size), nil
	case *btf.Pointer:
		// BPF pointers are 64 bits; user space sees them as numbers
		return goType{"uint64", 8, 8}, nil
	case *btf.Array:
		elem, err := g.typeOf(t.Type, hint+"Elem")
		if err != nil {
			return goType{}, err
		}
		size := uint64(t.Nelems) * uint64(elem.size)
		if size > math.MaxUint32 {
			return goType{}, fmt.Errorf("%s: an array of %d × %d bytes is larger than a BTF type can be", t, t.Nelems, elem.size)
		}
		return goType{fmt.Sprintf("[%d]%s", t.Nelems, elem.expr), uint32(size), elem.align}, nil
	case *btf.Struct:
		if t.Name == "bpf_spin_lock" {
			if t.Size != 4 {
				return goType{}, fmt.Errorf("struct bpf_spin_lock is %d bytes, not 4", t.Size)
			}
			g.uses["maps"] = true
			return goType{"maps.SpinLock", 4, 4}, nil
		}
		return g.declare(t, "struct", t.Name, hint, t.Size, func(name string) (string, uint32, error) { return g.structDecl(name, t) })
	case *btf.Union:
		return g.declare(t, "union", t.Name, hint, t.Size, func(name string) (string, uint32, error) { return g.unionDecl(name, t) })
	case *btf.Enum:
		return g.declare(t, "enum", t.Name, hint, t.Size, func(name string) (string, uint32, error) { return g.enumDecl(name, t) })
	}
	return goType{}, fmt.Errorf("%s: %w", t, errUnsized)
}

func intType(t *btf.Int) goType {
	signed := t.Encoding&btf.Signed != 0
	switch {
	case t.Encoding&btf.Bool != 0 && t.Size == 1:
		return goType{"bool", 1, 1}
	case t.Size == 1 && (t.Encoding&btf.Char != 0 || t.Name == "char"):
		// plain char (signed on BPF): bytes, so that strings are []byte-friendly
		return goType{"byte", 1, 1}
	}
	switch t.Size {
	case 1, 2, 4, 8:
		s := fmt.Sprintf("int%d", t.Size*8)
		if !signed {
			s = "u" + s
		}
		return goType{s, t.Size, t.Size}
	}
	return bytesType(t.Size) // __int128 and other sizes Go has no integer for
}

// declare returns the Go type of a struct, union or enum, declaring it on first use.
func (g *typeGen) declare(t btf.Type, kind, cname, hint string, size uint32, decl func(name string) (string, uint32, error)) (goType, error) {
	if g.pending[t] {
		return goType{}, fmt.Errorf("%s contains itself", describe(kind, cname))
	}
	if gt, ok := g.named[t]; ok {
		return gt, nil
	}
	want := hint
	if cname != "" {
		if err := checkCName(kind, cname); err != nil {
			return goType{}, err
		}
		want = GoName(cname)
	}
	if want == "" {
		want = "Anon"
	}
	name := g.pkg.claim(want)
	slot := len(g.decls)
	g.decls = append(g.decls, "")
	// the alignment is known only once the fields are: a type met again while it is
	// being declared contains itself, which pending refuses
	g.pending[t] = true
	code, align, err := decl(name)
	delete(g.pending, t)
	if err != nil {
		return goType{}, err
	}
	g.decls[slot] = code
	gt := goType{name, size, align}
	g.named[t] = gt
	return gt, nil
}

// describe names a C type for comments and errors: "struct event", "union addr", "enum
// state".
func describe(kind, cname string) string {
	if cname == "" {
		return "an anonymous " + kind
	}
	return kind + " " + text(cname)
}

// member is a struct member or a section variable.
type member struct {
	name           string
	typ            btf.Type
	bitOff, bitLen uint32 // bitLen > 0 for a bitfield
}

// field is one field of a generated struct.
type field struct {
	name     string // Go name; "" until named
	cname    string
	typ      goType
	off      uint32
	embedded bool   // an anonymous C struct or union member, embedded so its members promote
	note     string // why the field is not what one would expect
	bits     []bitfield
}

// bitfield is a C bitfield held in a field's storage.
type bitfield struct {
	cname  string
	typ    goType
	kind   bitKind
	signed bool
	shift  uint32 // from the storage's first bit
	width  uint32
}

type bitKind int

const (
	bitsInt bitKind = iota
	bitsBool
)

func (g *typeGen) structDecl(name string, s *btf.Struct) (string, uint32, error) {
	members := make([]member, 0, len(s.Members))
	for _, m := range s.Members {
		members = append(members, member{name: m.Name, typ: m.Type, bitOff: uint32(m.Offset), bitLen: uint32(m.BitfieldSize)})
	}
	fields, align, sc, err := g.layout(name, members, s.Size, false)
	if err != nil {
		return "", 0, fmt.Errorf("%s: %w", describe("struct", s.Name), err)
	}
	var b strings.Builder
	fmt.Fprintf(&b, "// %s is %s (%d bytes).\n", name, describe("struct", s.Name), s.Size)
	g.writeStruct(&b, name, fields, s.Size, sc)
	return b.String(), align, nil
}

// layout places the members at their C offsets. Runs of bitfields share one storage
// field; a member Go cannot align where C put it (packed structs) becomes raw bytes.
// For a section, the Go struct may end a few bytes past the section (Go rounds a struct
// to its alignment; the loader copies only the section's bytes).
func (g *typeGen) layout(parent string, members []member, size uint32, section bool) ([]field, uint32, *scope, error) {
	var fields []field
	anon := 0
	for _, m := range members {
		if m.name != "" {
			if err := checkCName("member", m.name); err != nil {
				return nil, 0, nil, err
			}
		}
		if uint64(m.bitOff)+uint64(m.bitLen) > uint64(size)*8 {
			return nil, 0, nil, fmt.Errorf("member %q at bit %d lies past the end of the %d-byte type", m.name, m.bitOff, size)
		}
		if m.bitLen == 0 && m.bitOff%8 != 0 {
			return nil, 0, nil, fmt.Errorf("member %q is at bit %d, not at a whole byte", m.name, m.bitOff)
		}
	}
	for i := 0; i < len(members); {
		m := members[i]
		if m.bitLen > 0 {
			j := i
			for j < len(members) && members[j].bitLen > 0 {
				j++
			}
			f, err := g.bitStorage(members[i:j], fields, members[j:], size)
			if err != nil {
				return nil, 0, nil, err
			}
			fields = append(fields, f)
			i = j
			continue
		}
		i++
		hint := parent + GoName(m.name)
		if m.name == "" {
			anon++
			hint = fmt.Sprintf("%sAnon%d", parent, anon)
		}
		typ, err := g.typeOf(m.typ, hint)
		if err != nil {
			return nil, 0, nil, fmt.Errorf("member %q: %w", m.name, err)
		}
		f := field{cname: m.name, typ: typ, off: m.bitOff / 8}
		if m.name == "" {
			switch btf.UnderlyingType(m.typ).(type) {
			case *btf.Struct, *btf.Union:
				f.embedded = !strings.HasPrefix(typ.expr, "maps.")
			}
		}
		fields = append(fields, f)
	}
	// C members follow one another; bitfields share a storage field (bitStorage)
	end := uint32(0)
	for i, f := range fields {
		if f.off < end {
			return nil, 0, nil, fmt.Errorf("member %q at byte %d overlaps the member before it, which ends at byte %d", fields[i].cname, f.off, end)
		}
		end = f.off + f.typ.size
		if uint64(f.off)+uint64(f.typ.size) > uint64(size) {
			return nil, 0, nil, fmt.Errorf("member %q (%d bytes at byte %d) lies past the end of the %d-byte type", f.cname, f.typ.size, f.off, size)
		}
	}
	// a zero-sized member at the end (a flexible array) would make Go pad the struct
	for len(fields) > 0 && fields[len(fields)-1].typ.size == 0 && len(fields[len(fields)-1].bits) == 0 {
		fields = fields[:len(fields)-1]
	}
	for i := range fields {
		if f := &fields[i]; f.off%f.typ.align != 0 {
			f.rawBytes(fmt.Sprintf("at offset %d, which a Go %s cannot be at", f.off, f.typ.expr))
		}
	}
	align := uint32(1)
	for {
		align = 1
		for _, f := range fields {
			align = max(align, f.typ.align)
		}
		if section || size%align == 0 {
			break
		}
		// a packed struct: Go would round its size up to the alignment of its widest field
		for i := range fields {
			if f := &fields[i]; size%f.typ.align != 0 {
				f.rawBytes(fmt.Sprintf("in a packed %d-byte type, which a %d-aligned Go %s would pad", size, f.typ.align, f.typ.expr))
			}
		}
	}
	// names: fields first, in order; an embedded type whose name is taken is named instead
	sc := newScope()
	nbits, nanon := 0, 0
	for i := range fields {
		f := &fields[i]
		switch {
		case f.embedded && !sc.taken[f.typ.expr]:
			f.name = sc.claim(f.typ.expr)
		case f.cname != "":
			f.embedded = false
			f.name = sc.claim(GoName(f.cname))
		case len(f.bits) > 0:
			nbits++
			f.name = sc.claim(fmt.Sprintf("Bitfield%d", nbits))
		default:
			f.embedded = false
			nanon++
			f.name = sc.claim(fmt.Sprintf("Anon%d", nanon))
		}
	}
	return fields, align, sc, nil
}

// rawBytes turns a field Go cannot place into its bytes; its bitfield accessors, if any,
// still work (they read bytes).
func (f *field) rawBytes(why string) {
	f.note = fmt.Sprintf("C %s, as bytes: it lies %s", f.typ.expr, why)
	f.typ = bytesType(f.typ.size)
	f.embedded = false
}

// bitStorage makes the storage field of a run of bitfields: the smallest unsigned
// integer that covers their bits, lies at a multiple of its size and overlaps no other
// member, or else the bytes they cover.
func (g *typeGen) bitStorage(run []member, before []field, after []member, size uint32) (field, error) {
	lo, hi := run[0].bitOff, uint64(0)
	for _, m := range run {
		lo = min(lo, m.bitOff)
		hi = max(hi, uint64(m.bitOff)+uint64(m.bitLen))
	}
	// layout checked that every bit lies inside the type, so end fits in 32 bits
	first, end := lo/8, uint32((hi+7)/8)
	floor := uint32(0)
	if n := len(before); n > 0 {
		floor = before[n-1].off + before[n-1].typ.size
	}
	ceil := size
	if len(after) > 0 {
		ceil = after[0].bitOff / 8
	}
	typ, at := bytesType(end-first), first
	for _, u := range []uint32{1, 2, 4, 8} {
		start := first / u * u
		if start >= floor && start+u >= end && start+u <= ceil {
			typ, at = goType{fmt.Sprintf("uint%d", u*8), u, u}, start
			break
		}
	}
	f := field{typ: typ, off: at}
	for _, m := range run {
		bt, err := g.typeOf(m.typ, "")
		if err != nil {
			return field{}, fmt.Errorf("bitfield %q: %w", m.name, err)
		}
		if bt.size != 1 && bt.size != 2 && bt.size != 4 && bt.size != 8 || m.bitLen > 8*bt.size {
			return field{}, fmt.Errorf("bitfield %q is %d bits of a %d-byte %s", m.name, m.bitLen, bt.size, m.typ)
		}
		b := bitfield{cname: m.name, typ: bt, shift: m.bitOff - at*8, width: m.bitLen}
		switch u := btf.UnderlyingType(m.typ).(type) {
		case *btf.Int:
			b.signed = u.Encoding&btf.Signed != 0
			if u.Encoding&btf.Bool != 0 {
				b.kind = bitsBool
			}
		case *btf.Enum:
			b.signed = u.Signed
		default:
			return field{}, fmt.Errorf("bitfield %q has type %s, not an integer or enum", m.name, m.typ)
		}
		f.bits = append(f.bits, b)
	}
	return f, nil
}

// writeStruct writes the struct type with its padding, then the bitfield accessors.
func (g *typeGen) writeStruct(b *strings.Builder, name string, fields []field, size uint32, sc *scope) {
	fmt.Fprintf(b, "type %s struct {\n", name)
	cur := uint32(0)
	for _, f := range fields {
		if f.off > cur {
			fmt.Fprintf(b, "\t_ [%d]byte\n", f.off-cur)
		}
		switch {
		case f.embedded:
			fmt.Fprintf(b, "\t%s", f.typ.expr)
		default:
			fmt.Fprintf(b, "\t%s %s", f.name, f.typ.expr)
		}
		var notes []string
		if f.cname != "" && GoName(f.cname) != f.name {
			notes = append(notes, "C "+text(f.cname))
		}
		if len(f.bits) > 0 {
			var names []string
			for _, bf := range f.bits {
				names = append(names, text(bf.cname))
			}
			notes = append(notes, "bitfields "+strings.Join(names, ", "))
		}
		if f.note != "" {
			notes = append(notes, f.note)
		}
		if len(notes) > 0 {
			fmt.Fprintf(b, " // %s", strings.Join(notes, "; "))
		}
		b.WriteString("\n")
		cur = max(cur, f.off+f.typ.size)
	}
	if size > cur {
		fmt.Fprintf(b, "\t_ [%d]byte\n", size-cur)
	}
	b.WriteString("}\n")
	for _, f := range fields {
		for _, bf := range f.bits {
			if bf.cname != "" {
				g.writeBitAccessors(b, name, f, bf, sc)
			}
		}
	}
}

func (g *typeGen) writeBitAccessors(b *strings.Builder, recv string, f field, bf bitfield, sc *scope) {
	g.uses["unsafe"], g.uses["asBytes"], g.uses["bits"] = true, true, true
	get := sc.claim(GoName(bf.cname))
	set := sc.claim("Set" + GoName(bf.cname))
	read := fmt.Sprintf("bitsGet(asBytes(&s.%s), %d, %d)", f.name, bf.shift, bf.width)
	fmt.Fprintf(b, "\n// %s returns the %d-bit field %s (bits %d to %d of %s).\n", get, bf.width, text(bf.cname), bf.shift, bf.shift+bf.width-1, f.name)
	switch {
	case bf.kind == bitsBool:
		fmt.Fprintf(b, "func (s *%s) %s() bool { return %s != 0 }\n", recv, get, read)
	case bf.signed:
		fmt.Fprintf(b, "func (s *%s) %s() %s { return %s(int64(%s<<%d) >> %d) }\n", recv, get, bf.typ.expr, bf.typ.expr, read, 64-bf.width, 64-bf.width)
	default:
		fmt.Fprintf(b, "func (s *%s) %s() %s { return %s(%s) }\n", recv, get, bf.typ.expr, bf.typ.expr, read)
	}
	fmt.Fprintf(b, "\n// %s stores the low %d bits of v in the bitfield %s.\n", set, bf.width, text(bf.cname))
	if bf.kind == bitsBool {
		fmt.Fprintf(b, "func (s *%s) %s(v bool) {\n\tvar x uint64\n\tif v {\n\t\tx = 1\n\t}\n\tbitsSet(asBytes(&s.%s), %d, %d, x)\n}\n", recv, set, f.name, bf.shift, bf.width)
		return
	}
	fmt.Fprintf(b, "func (s *%s) %s(v %s) { bitsSet(asBytes(&s.%s), %d, %d, uint64(v)) }\n", recv, set, bf.typ.expr, f.name, bf.shift, bf.width)
}

func (g *typeGen) unionDecl(name string, u *btf.Union) (string, uint32, error) {
	var b strings.Builder
	fmt.Fprintf(&b, "// %s is %s (%d bytes). Go has no unions: it is the union's bytes, with\n// a getter and a setter for each member.\n", name, describe("union", u.Name), u.Size)
	fmt.Fprintf(&b, "type %s [%d]byte\n", name, u.Size)
	sc := newScope()
	anon := 0
	for _, m := range u.Members {
		mname := m.Name
		if mname == "" {
			anon++
			mname = fmt.Sprintf("anon%d", anon)
		} else if err := checkCName("member", mname); err != nil {
			return "", 0, fmt.Errorf("%s: %w", describe("union", u.Name), err)
		}
		if m.BitfieldSize != 0 {
			fmt.Fprintf(&b, "\n// The bitfield member %s has no accessor: read it from the bytes.\n", text(m.Name))
			continue
		}
		if m.Offset != 0 {
			return "", 0, fmt.Errorf("%s member %q is at bit %d: a union's members are at 0", describe("union", u.Name), m.Name, m.Offset)
		}
		typ, err := g.typeOf(m.Type, name+GoName(mname))
		if err != nil {
			return "", 0, fmt.Errorf("%s member %q: %w", describe("union", u.Name), m.Name, err)
		}
		if typ.size > u.Size {
			return "", 0, fmt.Errorf("%s member %q is %d bytes, the union %d", describe("union", u.Name), m.Name, typ.size, u.Size)
		}
		g.uses["unsafe"], g.uses["asBytes"] = true, true
		get, set := sc.claim(GoName(mname)), sc.claim("Set"+GoName(mname))
		fmt.Fprintf(&b, "\n// %s returns the member %s (%s).\n", get, text(mname), typ.expr)
		fmt.Fprintf(&b, "func (u *%s) %s() %s {\n\tvar v %s\n\tcopy(asBytes(&v), u[:])\n\treturn v\n}\n", name, get, typ.expr, typ.expr)
		fmt.Fprintf(&b, "\n// %s stores v as the member %s; the bytes past it keep their value.\n", set, text(mname))
		fmt.Fprintf(&b, "func (u *%s) %s(v %s) { copy(u[:], asBytes(&v)) }\n", name, set, typ.expr)
	}
	return b.String(), 1, nil
}

func (g *typeGen) enumDecl(name string, e *btf.Enum) (string, uint32, error) {
	var under string
	switch e.Size {
	case 1, 2, 4, 8:
		under = fmt.Sprintf("int%d", e.Size*8)
		if !e.Signed {
			under = "u" + under
		}
	default:
		return "", 0, fmt.Errorf("%s has %d bytes", describe("enum", e.Name), e.Size)
	}
	for _, v := range e.Values {
		if err := checkCName("enum value", v.Name); err != nil {
			return "", 0, fmt.Errorf("%s: %w", describe("enum", e.Name), err)
		}
		if !enumFits(v.Value, e.Size, e.Signed) {
			val := fmt.Sprint(v.Value)
			if e.Signed {
				val = fmt.Sprint(int64(v.Value))
			}
			return "", 0, fmt.Errorf("%s: value %s = %s does not fit in its %d bytes", describe("enum", e.Name), v.Name, val, e.Size)
		}
	}
	var b strings.Builder
	fmt.Fprintf(&b, "// %s is %s.\ntype %s %s\n", name, describe("enum", e.Name), name, under)
	if len(e.Values) > 0 {
		fmt.Fprintf(&b, "\n// Values of %s.\nconst (\n", name)
		for _, v := range e.Values {
			cn := g.pkg.claim(GoName(v.Name))
			val := fmt.Sprint(v.Value)
			if e.Signed {
				val = fmt.Sprint(int64(v.Value))
			}
			fmt.Fprintf(&b, "\t%s %s = %s", cn, name, val)
			if GoName(v.Name) != cn {
				fmt.Fprintf(&b, " // C %s", text(v.Name))
			}
			b.WriteString("\n")
		}
		b.WriteString(")\n")
	}
	return b.String(), e.Size, nil
}

// enumFits reports whether an enum value (sign-extended when signed) fits in size bytes.
func enumFits(v uint64, size uint32, signed bool) bool {
	bits := size * 8
	switch {
	case bits >= 64:
		return true
	case signed:
		x := int64(v)
		return x >= -1<<(bits-1) && x < 1<<(bits-1)
	}
	return v < 1<<bits
}

// sectionDecl declares the struct of a global-data section: one field per variable.
func (g *typeGen) sectionDecl(name string, ds *btf.Datasec) error {
	members := make([]member, 0, len(ds.Vars))
	for _, vs := range ds.Vars {
		v, ok := vs.Type.(*btf.Var)
		if !ok || vs.Size == 0 || v.Linkage == btf.StaticVar {
			continue // see exposedVars
		}
		if err := checkCName("variable", v.Name); err != nil {
			return fmt.Errorf("section %s: %w", text(ds.Name), err)
		}
		if vs.Offset > ds.Size || vs.Offset > math.MaxUint32/8 {
			return fmt.Errorf("section %s: variable %s at offset %d lies past the end of the %d-byte section", text(ds.Name), v.Name, vs.Offset, ds.Size)
		}
		members = append(members, member{name: v.Name, typ: v.Type, bitOff: vs.Offset * 8})
	}
	slot := len(g.decls)
	g.decls = append(g.decls, "")
	fields, _, sc, err := g.layout(name, members, ds.Size, true)
	if err != nil {
		return fmt.Errorf("section %s: %w", text(ds.Name), err)
	}
	var b strings.Builder
	fmt.Fprintf(&b, "// %s holds the variables of the %s section (%d bytes).\n", name, text(ds.Name), ds.Size)
	g.writeStruct(&b, name, fields, ds.Size, sc)
	g.decls[slot] = b.String()
	return nil
}

// helpers returns the unexported functions the declarations use.
func (g *typeGen) helpers() string {
	var b strings.Builder
	if g.uses["asBytes"] {
		b.WriteString(`
// asBytes is the memory of *p as a byte slice.
func asBytes[T any](p *T) []byte {
	return unsafe.Slice((*byte)(unsafe.Pointer(p)), unsafe.Sizeof(*p))
}
`)
	}
	if g.uses["bits"] {
		if g.order == bigEndian {
			b.WriteString(`
// bitsGet reads width bits of b from bit shift on, most significant bit first.
func bitsGet(b []byte, shift, width uint) uint64 {
	var v uint64
	for i := range width {
		bit := shift + i
		v = v<<1 | uint64(b[bit/8]>>(7-bit%8)&1)
	}
	return v
}

// bitsSet writes the low width bits of v into b from bit shift on.
func bitsSet(b []byte, shift, width uint, v uint64) {
	for i := range width {
		bit := shift + i
		s := 7 - bit%8
		b[bit/8] = b[bit/8]&^(1<<s) | byte(v>>(width-1-i)&1)<<s
	}
}
`)
		} else {
			b.WriteString(`
// bitsGet reads width bits of b from bit shift on, least significant bit first.
func bitsGet(b []byte, shift, width uint) uint64 {
	var v uint64
	for i := range width {
		bit := shift + i
		v |= uint64(b[bit/8]>>(bit%8)&1) << i
	}
	return v
}

// bitsSet writes the low width bits of v into b from bit shift on.
func bitsSet(b []byte, shift, width uint, v uint64) {
	for i := range width {
		bit := shift + i
		b[bit/8] = b[bit/8]&^(1<<(bit%8)) | byte(v>>i&1)<<(bit%8)
	}
}
`)
		}
	}
	return b.String()
}
