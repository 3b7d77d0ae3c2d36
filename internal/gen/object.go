// SPDX-License-Identifier: Apache-2.0

package gen

import (
	"bytes"
	"debug/elf"
	"errors"
	"fmt"
	"slices"
	"strings"

	"github.com/cilium/ebpf/btf"

	"github.com/bpfkit/bpfkit/internal/objfile"
	"github.com/bpfkit/bpfkit/internal/sys"
)

// object is what the generator needs to know of a BPF object, read from its ELF and BTF
// the way libbpf reads them, without libbpf: the maps declared in .maps, the programs,
// and the global-data sections.
type object struct {
	spec     *btf.Spec
	order    binaryOrder
	maps     []mapDef
	progs    []progDef
	sections []*btf.Datasec // .bss, .data, .rodata and their named sub-sections, with variables
}

type binaryOrder int

const (
	littleEndian binaryOrder = iota
	bigEndian
)

// mapDef is one map of the .maps section (a BTF-defined map).
type mapDef struct {
	name       string
	typ        uint32   // BPF_MAP_TYPE_*
	key, value btf.Type // nil when the map gives only sizes, or nothing (ring buffers)
	keySize    uint32
	valueSize  uint32
}

// progDef is one program: a function in an executable section other than .text.
type progDef struct {
	name    string
	section string
}

func readObject(data []byte) (*object, error) {
	f, err := elf.NewFile(bytes.NewReader(data))
	if err != nil {
		return nil, fmt.Errorf("not an ELF file: %w", err)
	}
	if f.Machine != elf.EM_BPF {
		return nil, fmt.Errorf("not a BPF object: ELF machine is %s, want EM_BPF (compile with clang -target bpf)", f.Machine)
	}
	o := &object{}
	if f.ByteOrder.String() == "BigEndian" {
		o.order = bigEndian
	}
	if f.Section(".BTF") == nil {
		return nil, errors.New("the object has no BTF (.BTF section): compile it with clang -g")
	}
	o.spec, err = btf.LoadSpecFromReader(bytes.NewReader(objfile.AlignedBTF(data, f))) // variables where their symbols say
	if err != nil {
		return nil, fmt.Errorf("reading BTF: %w", err)
	}
	if err := o.readPrograms(f); err != nil {
		return nil, err
	}
	// Only the DATASECs of the ELF sections a skeleton shows are read, as libbpf makes
	// maps of those only: the others (.ksyms, .kconfig) are libbpf's business, and
	// cilium/ebpf refuses some of them (typed __ksym variables).
	seen := map[string]bool{}
	for _, sec := range f.Sections {
		if sec.Name != ".maps" && !sys.IsGlobalDataSection(sec.Name) || seen[sec.Name] {
			continue
		}
		seen[sec.Name] = true
		var ds *btf.Datasec
		if err := o.spec.TypeByName(sec.Name, &ds); err != nil {
			if errors.Is(err, btf.ErrNotFound) {
				continue // no variable in it (string literals only), or no BTF for it
			}
			return nil, fmt.Errorf("reading the BTF of section %s: %w", text(sec.Name), err)
		}
		switch {
		case ds.Name == ".maps":
			if err := o.readMaps(ds); err != nil {
				return nil, err
			}
		case exposedVars(ds) > 0:
			if err := checkSectionName("data section", ds.Name); err != nil {
				return nil, err
			}
			o.sections = append(o.sections, sortedDatasec(ds))
		}
	}
	slices.SortStableFunc(o.sections, func(a, b *btf.Datasec) int { return strings.Compare(sectionOrder(a.Name), sectionOrder(b.Name)) })
	return o, nil
}

// exposedVars counts the variables of a section the skeleton shows: like bpftool's,
// not the static ones (bpf_printk's format strings, static locals), which are the
// object's own business.
func exposedVars(ds *btf.Datasec) int {
	n := 0
	for _, vs := range ds.Vars {
		if v, ok := vs.Type.(*btf.Var); ok && v.Linkage != btf.StaticVar && vs.Size > 0 {
			n++
		}
	}
	return n
}

// sectionOrder sorts sections like bpftool's skeleton: .bss, .data, .rodata, then the
// named sub-sections by name.
func sectionOrder(name string) string {
	switch name {
	case ".bss":
		return "0"
	case ".data":
		return "1"
	case ".rodata":
		return "2"
	}
	return "3" + name
}

// sortedDatasec returns ds with its variables in offset order (the order libbpf's own
// fixup leaves them in), without changing the spec's copy.
func sortedDatasec(ds *btf.Datasec) *btf.Datasec {
	if slices.IsSortedFunc(ds.Vars, cmpVar) {
		return ds
	}
	c := *ds
	c.Vars = slices.Clone(ds.Vars)
	slices.SortStableFunc(c.Vars, cmpVar)
	return &c
}

func cmpVar(a, b btf.VarSecinfo) int { return int(a.Offset) - int(b.Offset) }

// readPrograms lists the functions of the executable sections other than .text (those
// are subprograms), ordered like libbpf: by section, then by offset.
func (o *object) readPrograms(f *elf.File) error {
	syms, err := f.Symbols()
	if err != nil && !errors.Is(err, elf.ErrNoSymbols) {
		return fmt.Errorf("reading the ELF symbol table: %w", err)
	}
	type at struct {
		sec  int
		off  uint64
		prog progDef
	}
	var found []at
	for _, s := range syms {
		if elf.ST_TYPE(s.Info) != elf.STT_FUNC || s.Section == elf.SHN_UNDEF || int(s.Section) >= len(f.Sections) {
			continue
		}
		sec := f.Sections[s.Section]
		if sec.Flags&elf.SHF_EXECINSTR == 0 || sec.Name == ".text" {
			continue
		}
		if err := checkCName("program", s.Name); err != nil {
			return err
		}
		if err := checkSectionName("the ELF section of program "+s.Name, sec.Name); err != nil {
			return err
		}
		found = append(found, at{int(s.Section), s.Value, progDef{name: s.Name, section: sec.Name}})
	}
	slices.SortStableFunc(found, func(a, b at) int {
		if a.sec != b.sec {
			return a.sec - b.sec
		}
		return int(a.off) - int(b.off)
	})
	for _, a := range found {
		o.progs = append(o.progs, a.prog)
	}
	return nil
}

// readMaps reads the BTF-defined maps: each variable of .maps is a struct whose members
// encode the map's attributes (__uint(type, …) is a pointer to an array of that many
// elements, __type(key, K) a pointer to K).
func (o *object) readMaps(ds *btf.Datasec) error {
	for _, vs := range sortedDatasec(ds).Vars {
		v, ok := vs.Type.(*btf.Var)
		if !ok {
			continue
		}
		if err := checkCName("map", v.Name); err != nil {
			return err
		}
		def, ok := btf.UnderlyingType(v.Type).(*btf.Struct)
		if !ok {
			return fmt.Errorf("map %q: its .maps variable is a %s, not a struct", v.Name, v.Type)
		}
		m := mapDef{name: v.Name}
		for _, mem := range def.Members {
			switch mem.Name {
			case "type":
				m.typ = uintMember(mem.Type)
			case "key_size":
				m.keySize = uintMember(mem.Type)
			case "value_size":
				m.valueSize = uintMember(mem.Type)
			case "key":
				m.key = pointee(mem.Type)
			case "value":
				m.value = pointee(mem.Type)
			}
		}
		for _, t := range []struct {
			typ  btf.Type
			size *uint32
		}{{m.key, &m.keySize}, {m.value, &m.valueSize}} {
			if t.typ == nil {
				continue
			}
			n, err := btf.Sizeof(t.typ)
			if err != nil {
				return fmt.Errorf("map %q: %w", m.name, err)
			}
			*t.size = uint32(n)
		}
		o.maps = append(o.maps, m)
	}
	return nil
}

// uintMember decodes __uint(name, N): a pointer to an array of N ints.
func uintMember(t btf.Type) uint32 {
	if p, ok := btf.UnderlyingType(t).(*btf.Pointer); ok {
		if a, ok := btf.UnderlyingType(p.Target).(*btf.Array); ok {
			return a.Nelems
		}
	}
	return 0
}

// pointee decodes __type(name, T): a pointer to T.
func pointee(t btf.Type) btf.Type {
	if p, ok := btf.UnderlyingType(t).(*btf.Pointer); ok {
		return p.Target
	}
	return nil
}
