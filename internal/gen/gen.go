// SPDX-License-Identifier: Apache-2.0

// Package gen writes typed Go skeletons of BPF objects: the code behind `bpfkit gen`.
//
// From an object's ELF and BTF (read in pure Go, as libbpf would read them) it writes one
// Go file with the skeleton type (Open, Load, Attach, Close over the embedded object),
// one struct per global-data section, a Maps struct of typed accessors from package maps,
// a Programs struct, and the Go types of every map key and value and of the types asked
// for by name. See Generate.
package gen

import (
	"bytes"
	"fmt"
	"go/ast"
	"go/format"
	"go/parser"
	"go/token"
	"maps"
	"path/filepath"
	"slices"
	"strings"

	"github.com/cilium/ebpf"
	"github.com/cilium/ebpf/btf"

	"github.com/bpfkit/bpfkit/internal/sys"
)

// Options say what to generate.
type Options struct {
	// Package is the Go package name of the generated file.
	Package string
	// ObjectFile is the name the generated file embeds (//go:embed) the object under: a
	// file beside the generated one. Its stem (minimal for minimal.bpf.o) names the
	// skeleton type (Minimal) and the object for libbpf.
	ObjectFile string
	// Object is the object's contents.
	Object []byte
	// Types are C type names (struct, union, enum or typedef names, without the
	// keyword) to generate Go types for besides those of the maps and sections.
	Types []string
	// Records name the record type of ring buffer and perf event array maps: map name →
	// C type name. Such a map's field is a typed reader (*maps.RingBuf[T],
	// *maps.PerfBuf[T]) that Load makes.
	Records map[string]string
}

// Stem is an object file's name without its directory and its .o and .bpf suffixes:
// minimal for bpf/minimal.bpf.o.
func Stem(objectFile string) string {
	s := filepath.Base(objectFile)
	s = strings.TrimSuffix(s, ".o")
	s = strings.TrimSuffix(s, ".bpf")
	return s
}

// checkObjectFile refuses an object file name that could not be written as it is into
// the //go:embed line and the comments of the generated file: it must be a bare file
// name (the object is embedded from beside the generated file) of letters, digits and
// . _ + -, not starting with a dot or a dash.
func checkObjectFile(name string) error {
	if name == "" || filepath.Base(name) != name {
		return fmt.Errorf("object file name %s must be a bare file name (the object is embedded from beside the generated file)", quoteName(name))
	}
	if len(name) > 255 {
		return fmt.Errorf("object file name %s is %d bytes, longer than a file name can be", quoteName(name), len(name))
	}
	for i := 0; i < len(name); i++ {
		c := name[i]
		if c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9' || c == '_' || c == '+' || i > 0 && (c == '.' || c == '-') {
			continue
		}
		return fmt.Errorf("object file name %s: use letters, digits and . _ + - only, not starting with . or - (the name goes into //go:embed and the generated code)", quoteName(name))
	}
	return nil
}

// Generate returns the gofmt'd Go source of the object's skeleton. The same options give
// the same bytes.
func Generate(opts Options) ([]byte, error) {
	if !token.IsIdentifier(opts.Package) || opts.Package == "_" {
		return nil, fmt.Errorf("package name %s is not a Go identifier", quoteName(opts.Package))
	}
	if err := checkObjectFile(opts.ObjectFile); err != nil {
		return nil, err
	}
	obj, err := readObject(opts.Object)
	if err != nil {
		return nil, printable{fmt.Errorf("%s: %w", opts.ObjectFile, err)}
	}
	sk := &skeleton{opts: opts, obj: obj, stem: Stem(opts.ObjectFile)}
	src, err := sk.generate()
	if err != nil {
		return nil, printable{fmt.Errorf("%s: %w", opts.ObjectFile, err)}
	}
	out, err := format.Source(src)
	if err != nil {
		return nil, fmt.Errorf("%s: generated code does not parse (a bug in bpfkit gen): %w\n%s", opts.ObjectFile, err, src)
	}
	return out, nil
}

type skeleton struct {
	opts  Options
	obj   *object
	stem  string
	types *typeGen

	name     string // the skeleton type
	sections []section
	maps     []skelMap
	progs    []skelProg
}

type section struct {
	elf  string // ".bss"
	name string // BSS: the type, and the skeleton's field
	live bool   // writable after load and mapped: .bss and .data* without kernel objects
	// special names the kernel object (bpf_spin_lock …) a writable section holds: the
	// kernel does not let user space map such a map, so the section is not live
	special string
	source  *btf.Datasec
}

type skelMap struct {
	cname, name string
	typ         ebpf.MapType
	expr        string // the field's Go type
	ctor        string // the constructor call, given the *loader.Map; "" for a raw map
	record      string // a reader's C record type; its ctor runs in Load
}

type skelProg struct {
	cname, name, section string
}

// constructors maps a map type to its typed accessor: the Go type with K and V
// placeholders, and its constructor.
var constructors = map[ebpf.MapType][2]string{
	ebpf.Hash:        {"*maps.Hash[K, V]", "maps.NewHash[K, V]"},
	ebpf.LRUHash:     {"*maps.LRUHash[K, V]", "maps.NewLRUHash[K, V]"},
	ebpf.PerCPUHash:  {"*maps.PerCPUHash[K, V]", "maps.NewPerCPUHash[K, V]"},
	ebpf.LRUCPUHash:  {"*maps.LRUPerCPUHash[K, V]", "maps.NewLRUPerCPUHash[K, V]"},
	ebpf.LPMTrie:     {"*maps.LPMTrie[K, V]", "maps.NewLPMTrie[K, V]"},
	ebpf.Array:       {"*maps.Array[V]", "maps.NewArray[V]"},
	ebpf.PerCPUArray: {"*maps.PerCPUArray[V]", "maps.NewPerCPUArray[V]"},
	ebpf.Queue:       {"*maps.Queue[V]", "maps.NewQueue[V]"},
	ebpf.Stack:       {"*maps.Stack[V]", "maps.NewStack[V]"},
	ebpf.BloomFilter: {"*maps.BloomFilter[V]", "maps.NewBloomFilter[V]"},
	ebpf.HashOfMaps:  {"*maps.HashOfMaps[K]", "maps.NewHashOfMaps[K]"},
	ebpf.ArrayOfMaps: {"*maps.ArrayOfMaps", "maps.NewArrayOfMaps"},
}

// readers maps the map types a record type makes a reader of to the reader's Go type
// and constructor, with a {R} placeholder for the record type. The readers need the
// loaded map: Load makes them.
var readers = map[ebpf.MapType][2]string{
	ebpf.RingBuf:        {"*maps.RingBuf[{R}]", "maps.NewRingBuf[{R}](m)"},
	ebpf.PerfEventArray: {"*maps.PerfBuf[{R}]", "maps.NewPerfBuf[{R}](m, 0)"},
}

// rawHint tells the user of a map without a typed accessor in the skeleton what to do.
// %s is the map's C name.
var rawHint = map[ebpf.MapType]string{
	ebpf.RingBuf:        "a ring buffer: give its record type (bpfkit gen -type %s=TYPE) for a *maps.RingBuf[TYPE], or read it with maps.NewRawRingBuf",
	ebpf.PerfEventArray: "a perf event array: give its record type (bpfkit gen -type %s=TYPE) for a *maps.PerfBuf[TYPE]",
	ebpf.ProgramArray:   "a program array for tail calls: fill it through maps.FromFD or Object.Map",
}

func (sk *skeleton) generate() ([]byte, error) {
	pkg := newScope("Open")
	sk.name = pkg.claim(GoName(sk.stem))
	for _, ds := range sk.obj.sections {
		// always BSS, Data or Rodata and a suffix: no clash with the skeleton's Object,
		// Maps, Programs, Load, Attach or Close
		name := pkg.claim(sectionGoName(ds.Name))
		s := section{elf: ds.Name, name: name, live: !sys.IsReadOnlySection(ds.Name), source: ds}
		if s.live {
			for _, f := range sys.SpecialFields(ds) {
				if !f.Wrapped {
					s.live, s.special = false, f.Kind.String()
					break
				}
			}
		}
		sk.sections = append(sk.sections, s)
	}
	mapsType, progsType := pkg.claim("Maps"), pkg.claim("Programs")
	sk.types = newTypeGen(pkg, sk.obj.order)
	for _, s := range sk.sections {
		if err := sk.types.sectionDecl(s.name, s.source); err != nil {
			return nil, err
		}
	}
	if err := sk.collectMaps(); err != nil {
		return nil, err
	}
	for _, want := range sk.opts.Types {
		t, err := lookupType(sk.obj.spec, want)
		if err != nil {
			return nil, err
		}
		if _, err := sk.types.typeOf(t, GoName(want)); err != nil {
			return nil, fmt.Errorf("type %s: %w", want, err)
		}
	}
	ps := newScope()
	for _, p := range sk.obj.progs {
		sk.progs = append(sk.progs, skelProg{cname: p.name, name: ps.claim(GoName(p.name)), section: p.section})
	}

	var body bytes.Buffer
	sk.writeSkeleton(&body, mapsType, progsType)
	for _, d := range sk.types.decls {
		body.WriteString("\n")
		body.WriteString(d)
	}
	body.WriteString(sk.types.helpers())
	// A type that meant maps.SpinLock may have become bytes since (a lock in a packed
	// struct): the import follows what the code refers to, not what it once did.
	sk.types.uses["maps"] = refersTo(body.Bytes(), "maps")
	var b bytes.Buffer
	sk.writeHeader(&b)
	b.Write(body.Bytes())
	return b.Bytes(), nil
}

// refersTo reports whether Go declarations src (without package clause and imports)
// refer to package pkg: a selector pkg.X outside comments and strings.
func refersTo(src []byte, pkg string) bool {
	f, err := parser.ParseFile(token.NewFileSet(), "", append([]byte("package p\n"), src...), parser.SkipObjectResolution)
	if err != nil {
		return true // let the formatter report it, with the import in place
	}
	found := false
	ast.Inspect(f, func(n ast.Node) bool {
		if sel, ok := n.(*ast.SelectorExpr); ok {
			if id, ok := sel.X.(*ast.Ident); ok && id.Name == pkg {
				found = true
			}
		}
		return !found
	})
	return found
}

// sectionGoName: .bss → BSS, .data → Data, .rodata → Rodata, .data.counters →
// DataCounters.
func sectionGoName(elf string) string {
	for _, p := range []struct{ prefix, name string }{{".bss", "BSS"}, {".data", "Data"}, {".rodata", "Rodata"}} {
		if rest, ok := strings.CutPrefix(elf, p.prefix); ok {
			if rest == "" {
				return p.name
			}
			return p.name + GoName(rest)
		}
	}
	return GoName(elf)
}

func (sk *skeleton) collectMaps() error {
	ms := newScope()
	recordMaps := map[string]bool{}
	for _, m := range sk.obj.maps {
		sm := skelMap{cname: m.name, name: ms.claim(GoName(m.name)), typ: ebpf.MapType(m.typ), expr: "*loader.Map"}
		if rec, ok := sk.opts.Records[m.name]; ok {
			recordMaps[m.name] = true
			r, ok := readers[sm.typ]
			if !ok {
				return fmt.Errorf("-type %s=%s: map %s is a %s, not a ring buffer or a perf event array", m.name, rec, m.name, sm.typ)
			}
			t, err := lookupType(sk.obj.spec, rec)
			if err != nil {
				return err
			}
			gt, err := sk.types.typeOf(t, GoName(rec))
			if err != nil {
				return fmt.Errorf("record type %s of map %s: %w", rec, m.name, err)
			}
			rr := strings.NewReplacer("{R}", gt.expr)
			sm.expr, sm.ctor, sm.record = rr.Replace(r[0]), rr.Replace(r[1]), rec
			sk.maps = append(sk.maps, sm)
			continue
		}
		c, ok := constructors[sm.typ]
		if !ok {
			sk.maps = append(sk.maps, sm)
			continue
		}
		key, err := sk.keyValue(m.key, m.keySize, GoName(m.name)+"Key")
		if err != nil {
			return fmt.Errorf("map %s key: %w", m.name, err)
		}
		value, err := sk.keyValue(m.value, m.valueSize, GoName(m.name)+"Value")
		if err != nil {
			return fmt.Errorf("map %s value: %w", m.name, err)
		}
		r := strings.NewReplacer("K", key.expr, "V", value.expr)
		sm.expr, sm.ctor = r.Replace(c[0]), r.Replace(c[1])
		sk.types.uses["maps"] = true
		sk.maps = append(sk.maps, sm)
	}
	for _, name := range slices.Sorted(maps.Keys(sk.opts.Records)) {
		if rec := sk.opts.Records[name]; !recordMaps[name] {
			var have []string
			for _, m := range sk.obj.maps {
				if _, ok := readers[ebpf.MapType(m.typ)]; ok {
					have = append(have, m.name)
				}
			}
			return fmt.Errorf("-type %s=%s: the object has no map %s (its ring buffers and perf event arrays: %s)", name, rec, name, listOrNone(have))
		}
	}
	return nil
}

// listOrNone joins names for a message: "a, b", or "none".
func listOrNone(names []string) string {
	if len(names) == 0 {
		return "none"
	}
	slices.Sort(names)
	return strings.Join(names, ", ")
}

// keyValue is the Go type of a map key or value: from BTF, or bytes of its size when
// the map gives only a size.
func (sk *skeleton) keyValue(t btf.Type, size uint32, hint string) (goType, error) {
	if t == nil {
		return bytesType(size), nil
	}
	return sk.types.typeOf(t, hint)
}

// lookupType finds a named C type for -type; struct, union and enum names are preferred
// to typedefs of the same name.
func lookupType(spec *btf.Spec, name string) (btf.Type, error) {
	types, err := spec.AnyTypesByName(name)
	if err != nil || len(types) == 0 {
		return nil, fmt.Errorf("-type %s: the object's BTF has no type of that name. clang writes into BTF only "+
			"the types a global variable, a map (__type) or a function's signature uses: a struct the program "+
			"only reaches through a pointer (a ring buffer record it reserves) is left out. Keep it with a "+
			"global `struct %s *unused_%s __attribute__((unused));`, or name it in a map's __type(value, struct %s)",
			name, name, name, name)
	}
	rank := func(t btf.Type) int {
		switch t.(type) {
		case *btf.Struct, *btf.Union, *btf.Enum:
			return 0
		case *btf.Typedef:
			return 1
		}
		return 2
	}
	slices.SortStableFunc(types, func(a, b btf.Type) int { return rank(a) - rank(b) })
	if rank(types[0]) == 2 {
		return nil, fmt.Errorf("-type %s: %s is not a struct, union, enum or typedef", name, types[0])
	}
	return types[0], nil
}
