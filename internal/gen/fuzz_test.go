// SPDX-License-Identifier: Apache-2.0

package gen_test

import (
	"bytes"
	"debug/elf"
	"fmt"
	"go/ast"
	"go/types"
	"iter"
	"os"
	"reflect"
	"regexp"
	"strings"
	"testing"
	"unicode"
	"unicode/utf8"

	"github.com/cilium/ebpf/btf"

	"github.com/bpfkit/bpfkit/internal/gen"
	"github.com/bpfkit/bpfkit/internal/gen/testobj"
)

// cIdent is what gen accepts as a name it makes an identifier of.
var cIdent = regexp.MustCompile(`^[A-Za-z_][A-Za-z0-9_.]{0,511}$`)

// mayBeAnonymous are the places where an empty name is C's anonymous struct, union,
// enum, member or bitfield.
var mayBeAnonymous = map[string]bool{"Struct": true, "Member": true, "Bitfield": true, "Union": true, "UnionMember": true, "Enum": true}

// dataSection matches the sections whose variables a skeleton exposes.
var dataSection = regexp.MustCompile(`^\.(bss|data|rodata)(\..*)?$`)

// checkOutcome is the property of every fuzz target of gen: gen refuses the object with a
// one-line error that names it, or writes a file that checkSkeleton accepts and that
// type-checks against the real loader and maps.
func checkOutcome(t *testing.T, src []byte, err error) (*types.Package, *ast.File) {
	t.Helper()
	if err != nil {
		msg := err.Error()
		if !strings.HasPrefix(msg, "fuzz.bpf.o: ") {
			t.Fatalf("error does not name the object: %q", msg)
		}
		for i, r := range msg {
			if unicode.IsControl(r) || unicode.Is(unicode.Cf, r) || r == '\u2028' || r == '\u2029' || r == utf8.RuneError && msg[i] != 0xef {
				t.Fatalf("error holds a control, format or invalid character: %q", msg)
			}
		}
		return nil, nil
	}
	f, fset, err := checkSkeleton(src, "p", "fuzz.bpf.o")
	if err != nil {
		t.Fatalf("%v\n%s", err, src)
	}
	pkg, err := typeCheck(f, fset)
	if err != nil {
		t.Fatalf("does not type-check: %v\n%s", err, src)
	}
	return pkg, f
}

// FuzzNames puts any strings where an object names its struct, members, bitfield, union,
// enum, typedef, map, variable, data section, program and program section. Besides
// checkOutcome, gen may succeed only when every name it makes an identifier of is a C
// identifier.
func FuzzNames(f *testing.F) {
	add := func(n objNames, big bool) {
		f.Add(n.Struct, n.Member, n.Bitfield, n.Union, n.UnionMember, n.Enum, n.EnumValue, n.Typedef, n.Map, n.Var, n.Section, n.Program, n.ProgSection, big)
	}
	add(plainNames, false)
	add(plainNames, true)
	for _, p := range payloads {
		for _, place := range append(identifierPlaces, "Section", "ProgSection") {
			add(withName(place, p), false)
		}
	}
	f.Fuzz(func(t *testing.T, structName, member, bitfield, union, unionMember, enum, enumValue, typedef, mapName, varName, section, program, progSection string, big bool) {
		n := objNames{structName, member, bitfield, union, unionMember, enum, enumValue, typedef, mapName, varName, section, program, progSection}
		obj, err := namedObject(n, big)
		if err != nil {
			return // a name with a NUL byte, which BTF cannot hold
		}
		src, err := gen.Generate(gen.Options{Package: "p", ObjectFile: "fuzz.bpf.o", Object: obj})
		checkOutcome(t, src, err)
		if err != nil {
			return
		}
		// the ELF string table ends a program's name at a NUL
		n.Program, _, _ = strings.Cut(n.Program, "\x00")
		n.ProgSection, _, _ = strings.Cut(n.ProgSection, "\x00")
		v := reflect.ValueOf(n)
		for _, place := range identifierPlaces {
			switch {
			case place == "Var" && !dataSection.MatchString(n.Section):
				continue // not a global-data section: its variable is not read
			case place == "Program" && n.ProgSection == ".text":
				continue // a subprogram
			case mayBeAnonymous[place] && v.FieldByName(place).String() == "":
				continue // anonymous
			}
			if name := v.FieldByName(place).String(); !cIdent.MatchString(name) {
				t.Fatalf("%s name %q is not a C identifier, and gen took it", place, name)
			}
		}
	})
}

// btfTemplates are the objects FuzzBTF puts fuzzed BTF into: their ELF sections
// and symbols are what a data section's size and variables are fixed up from.
var btfTemplates = []string{"../../bpf/testdata/gen/tricky.bpf.o", "../../bpf/minimal.bpf.o", "../../bpf/examples/spinlock.bpf.o"}

// FuzzBTF replaces the .BTF of a real object (template picks which) with fuzzed
// bytes and asks gen for the maps' and sections' types and for every named struct,
// union, enum and typedef besides. Besides checkOutcome, every typed map's Go key and
// value have the size the BTF gives them (what package maps checks at Open), and every
// section struct covers its section.
func FuzzBTF(f *testing.F) {
	var templates [][]byte
	for _, p := range btfTemplates {
		b, err := os.ReadFile(p)
		if err != nil {
			f.Fatal(err)
		}
		templates = append(templates, b)
	}
	for i, obj := range templates {
		raw, err := sectionData(obj, ".BTF")
		if err != nil {
			f.Fatal(err)
		}
		f.Add(raw, uint8(i))
	}
	f.Fuzz(func(t *testing.T, rawBTF []byte, template uint8) {
		obj, err := testobj.ReplaceSection(templates[int(template)%len(templates)], ".BTF", rawBTF)
		if err != nil {
			t.Fatal(err)
		}
		var named []string
		spec, specErr := btf.LoadSpecFromReader(bytes.NewReader(obj))
		for typ, err := range specTypes(spec) {
			if err != nil || len(named) == 16 {
				break
			}
			switch typ := typ.(type) {
			case *btf.Struct, *btf.Union, *btf.Enum, *btf.Typedef:
				if name := typ.TypeName(); name != "" && !strings.Contains(name, ",") {
					named = append(named, name)
				}
			}
		}
		src, err := gen.Generate(gen.Options{Package: "p", ObjectFile: "fuzz.bpf.o", Object: obj, Types: named})
		pkg, file := checkOutcome(t, src, err)
		if err != nil {
			return
		}
		if specErr != nil {
			t.Fatalf("gen took BTF the BTF reader refuses (%v)", specErr)
		}
		if err := checkSizes(pkg, file, spec); err != nil {
			t.Fatalf("%v\n%s", err, src)
		}
	})
}

// specTypes is spec.All, or nothing when there is no spec.
func specTypes(spec *btf.Spec) iter.Seq2[btf.Type, error] {
	if spec == nil {
		return func(func(btf.Type, error) bool) {}
	}
	return spec.All()
}

// sectionData is the contents of an ELF section.
func sectionData(obj []byte, name string) ([]byte, error) {
	f, err := elf.NewFile(bytes.NewReader(obj))
	if err != nil {
		return nil, err
	}
	s := f.Section(name)
	if s == nil {
		return nil, fmt.Errorf("no section %s", name)
	}
	return s.Data()
}

// checkSizes compares the sizes gc gives the generated types with the BTF's: the key
// and value of each typed map (found by the C name in its field's comment) and each
// section struct (at least the section, less than 8 bytes more).
func checkSizes(pkg *types.Package, file *ast.File, spec *btf.Spec) error {
	sizes := types.SizesFor("gc", "amd64")
	kv := map[string][2]int64{} // map name → key and value size; -1 when BTF has no type
	// the DATASEC of a section, found by name as gen and libbpf find it (spec.All stops
	// at the first type it cannot read, which may come before the DATASECs)
	datasec := func(name string) *btf.Datasec {
		var ds *btf.Datasec
		if spec.TypeByName(name, &ds) != nil {
			return nil
		}
		return ds
	}
	if ds := datasec(".maps"); ds != nil {
		for _, vs := range ds.Vars {
			v, ok := vs.Type.(*btf.Var)
			if !ok {
				continue
			}
			def, ok := btf.UnderlyingType(v.Type).(*btf.Struct)
			if !ok {
				continue
			}
			s := [2]int64{-1, -1}
			for _, m := range def.Members {
				i := map[string]int{"key": 0, "value": 1}[m.Name]
				if m.Name != "key" && m.Name != "value" {
					continue
				}
				if p, ok := btf.UnderlyingType(m.Type).(*btf.Pointer); ok {
					if n, err := btf.Sizeof(p.Target); err == nil {
						s[i] = int64(n)
					}
				}
			}
			kv[v.Name] = s
		}
	}

	// the Maps struct: each field's comment starts with the map's C name
	mapsType := mapsTypeName(pkg)
	for _, d := range file.Decls {
		g, ok := d.(*ast.GenDecl)
		if !ok {
			continue
		}
		for _, s := range g.Specs {
			if ts, ok := s.(*ast.TypeSpec); ok && ts.Name.Name == mapsType {
				for _, fl := range ts.Type.(*ast.StructType).Fields.List {
					if err := checkMapField(pkg, sizes, fl, kv); err != nil {
						return err
					}
				}
			}
		}
	}
	// sections: s.Object.ReadSection("name", s.Field) in open
	skeleton := pkg.Scope().Lookup(skeletonName(pkg)).Type()
	var err error
	ast.Inspect(file, func(n ast.Node) bool {
		call, ok := n.(*ast.CallExpr)
		if !ok || err != nil {
			return err == nil
		}
		sel, ok := call.Fun.(*ast.SelectorExpr)
		if !ok || sel.Sel.Name != "ReadSection" || len(call.Args) != 2 {
			return true
		}
		// Open's s.Object.ReadSection("name", s.Field); a getter's ReadSection("name",
		// &v) reads into a local of the same field's type, checked through Open's call
		target, isField := call.Args[1].(*ast.SelectorExpr)
		if !isField {
			return true
		}
		name, ok := stringLit(call.Args[0])
		field := target.Sel.Name
		obj, _, _ := types.LookupFieldOrMethod(skeleton, false, pkg, field)
		if obj == nil || !ok {
			err = fmt.Errorf("ReadSection into %s: no such field, or no section name", field)
			return false
		}
		got := sizes.Sizeof(obj.Type().(*types.Pointer).Elem())
		ds := datasec(name)
		if ds == nil {
			err = fmt.Errorf("ReadSection of %q, which the BTF does not have", name)
			return false
		}
		if want := int64(ds.Size); got < want || got >= want+8 {
			err = fmt.Errorf("section %q is %d bytes, its Go struct %s %d", name, want, field, got)
		}
		return true
	})
	return err
}

// skeletonName is the type Open returns a pointer to.
func skeletonName(pkg *types.Package) string {
	sig := pkg.Scope().Lookup("Open").Type().(*types.Signature)
	return sig.Results().At(0).Type().(*types.Pointer).Elem().(*types.Named).Obj().Name()
}

// mapsTypeName is the type of the skeleton's Maps field.
func mapsTypeName(pkg *types.Package) string {
	obj, _, _ := types.LookupFieldOrMethod(pkg.Scope().Lookup(skeletonName(pkg)).Type(), false, pkg, "Maps")
	return obj.Type().(*types.Named).Obj().Name()
}

// checkMapField compares a typed accessor's type arguments with the map's BTF sizes.
func checkMapField(pkg *types.Package, sizes types.Sizes, fl *ast.Field, kv map[string][2]int64) error {
	if fl.Comment == nil || len(fl.Names) != 1 {
		return fmt.Errorf("map field without a name or a comment")
	}
	cname, _, _ := strings.Cut(fl.Comment.Text(), ":")
	obj, _, _ := types.LookupFieldOrMethod(pkg.Scope().Lookup(mapsTypeName(pkg)).Type(), false, pkg, fl.Names[0].Name)
	ptr, ok := obj.Type().(*types.Pointer)
	if !ok {
		return fmt.Errorf("map field %s is not a pointer", fl.Names[0].Name)
	}
	named := ptr.Elem().(*types.Named)
	if named.Obj().Pkg().Path() != "github.com/bpfkit/bpfkit/maps" {
		return nil // *loader.Map
	}
	args := named.TypeArgs()
	want, ok := kv[cname]
	if !ok {
		return fmt.Errorf("map field %s names map %q, which the BTF does not have", fl.Names[0].Name, cname)
	}
	check := func(what string, typ types.Type, size int64) error {
		if size >= 0 && sizes.Sizeof(typ) != size {
			return fmt.Errorf("map %s: Go %s %s is %d bytes, BTF %d", cname, what, typ, sizes.Sizeof(typ), size)
		}
		return nil
	}
	switch {
	case args.Len() == 2:
		if err := check("key", args.At(0), want[0]); err != nil {
			return err
		}
		return check("value", args.At(1), want[1])
	case named.Obj().Name() == "HashOfMaps":
		return check("key", args.At(0), want[0])
	case args.Len() == 1:
		return check("value", args.At(0), want[1])
	}
	return nil
}
