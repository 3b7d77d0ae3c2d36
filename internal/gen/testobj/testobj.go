// SPDX-License-Identifier: Apache-2.0

// Package testobj writes small BPF ELF objects for the tests and fuzz targets of package
// gen. Names pass through unchecked, the way a hostile or broken compiler would write
// them, so that a test can make the objects a generator must refuse or escape.
//
// An object has one ELF section per program section (two instructions per program:
// r0 = 0; exit), one section per BTF DATASEC with a symbol for each of its variables,
// a symbol table, and the .BTF section. It has no relocations and no .BTF.ext: enough
// for a reader of ELF and BTF, not for the kernel.
package testobj

import (
	"bytes"
	"debug/elf"
	"encoding/binary"
	"fmt"
	"slices"

	"github.com/cilium/ebpf/btf"
)

// Program is a BPF program: a function symbol in an executable section.
type Program struct {
	Name    string // the ELF symbol
	Section string // the ELF section, e.g. "tracepoint/syscalls/sys_enter_write"
}

// Object is what Build writes.
type Object struct {
	// Types are marshalled into .BTF in this order (with the types they refer to). Each
	// *btf.Datasec among them also gets an ELF section of its size (.bss without
	// contents) and an object symbol per variable.
	Types    []btf.Type
	Programs []Program
	// BigEndian writes the ELF and the BTF big-endian.
	BigEndian bool
}

// maxSection bounds the data sections Build writes out.
const maxSection = 1 << 20

// Build returns the object's ELF bytes.
func (o Object) Build() ([]byte, error) {
	order := binary.ByteOrder(binary.LittleEndian)
	if o.BigEndian {
		order = binary.BigEndian
	}
	b, err := btf.NewBuilder(o.Types, nil)
	if err != nil {
		return nil, fmt.Errorf("building BTF: %w", err)
	}
	raw, err := b.Marshal(nil, &btf.MarshalOptions{Order: order})
	if err != nil {
		return nil, fmt.Errorf("marshalling BTF: %w", err)
	}
	var secs []*btf.Datasec
	for _, t := range o.Types {
		if ds, ok := t.(*btf.Datasec); ok {
			// Its bytes are written out (but .bss's): a fuzzed 4 GiB section took a
			// worker 16 s to write, and the fuzzer called it hung.
			if ds.Name != ".bss" && ds.Size > maxSection {
				return nil, fmt.Errorf("data section %s of %d bytes: a test object holds at most %d", ds.Name, ds.Size, maxSection)
			}
			secs = append(secs, ds)
		}
	}
	return write(raw, o.Programs, secs, order), nil
}

// WithBTF returns an object whose .BTF section is raw, as it is, with the programs.
func WithBTF(raw []byte, progs []Program, order binary.ByteOrder) []byte {
	return write(raw, progs, nil, order)
}

type section struct {
	name    string
	typ     elf.SectionType
	flags   elf.SectionFlag
	data    []byte
	size    uint64 // of a NOBITS section
	link    uint32
	info    uint32
	align   uint64
	entsize uint64
}

type symbol struct {
	name  string
	info  byte
	shndx uint16
	value uint64
	size  uint64
}

// strtab is the one string table, for section and symbol names alike.
type strtab struct {
	b   []byte
	off map[string]uint32
}

func (s *strtab) add(name string) uint32 {
	if off, ok := s.off[name]; ok {
		return off
	}
	off := uint32(len(s.b))
	s.b = append(append(s.b, name...), 0)
	s.off[name] = off
	return off
}

func write(rawBTF []byte, progs []Program, secs []*btf.Datasec, order binary.ByteOrder) []byte {
	strs := &strtab{b: []byte{0}, off: map[string]uint32{"": 0}}
	sections := []section{{}, {name: ".strtab", typ: elf.SHT_STRTAB, align: 1}, {name: ".symtab", typ: elf.SHT_SYMTAB, link: 1, info: 1, align: 8, entsize: 24}}
	var syms []symbol
	index := map[string]int{}
	// r0 = 0; exit
	insns := []byte{0xb7, 0, 0, 0, 0, 0, 0, 0, 0x95, 0, 0, 0, 0, 0, 0, 0}
	for _, p := range progs {
		i, ok := index[p.Section]
		if !ok {
			i = len(sections)
			index[p.Section] = i
			sections = append(sections, section{name: p.Section, typ: elf.SHT_PROGBITS, flags: elf.SHF_ALLOC | elf.SHF_EXECINSTR, align: 8})
		}
		s := &sections[i]
		syms = append(syms, symbol{p.Name, byte(elf.STB_GLOBAL)<<4 | byte(elf.STT_FUNC), uint16(i), uint64(len(s.data)), uint64(len(insns))})
		s.data = append(s.data, insns...)
	}
	for _, ds := range secs {
		s := section{name: ds.Name, typ: elf.SHT_PROGBITS, flags: elf.SHF_ALLOC | elf.SHF_WRITE, align: 8}
		if ds.Name == ".bss" {
			s.typ, s.size = elf.SHT_NOBITS, uint64(ds.Size)
		} else {
			s.data = make([]byte, ds.Size)
		}
		i := len(sections)
		sections = append(sections, s)
		for _, vs := range ds.Vars {
			if v, ok := vs.Type.(*btf.Var); ok {
				syms = append(syms, symbol{v.Name, byte(elf.STB_GLOBAL)<<4 | byte(elf.STT_OBJECT), uint16(i), uint64(vs.Offset), uint64(vs.Size)})
			}
		}
	}
	sections = append(sections, section{name: ".BTF", typ: elf.SHT_PROGBITS, data: rawBTF, align: 4})

	var symtab bytes.Buffer
	symtab.Write(make([]byte, 24))
	for _, s := range syms {
		_ = binary.Write(&symtab, order, elf.Sym64{Name: strs.add(s.name), Info: s.info, Shndx: s.shndx, Value: s.value, Size: s.size})
	}
	sections[2].data = symtab.Bytes()
	names := make([]uint32, len(sections))
	for i, s := range sections {
		names[i] = strs.add(s.name)
	}
	sections[1].data = strs.b

	// the header, each section's contents 8-aligned, then the section headers
	const ehsize, shentsize = 64, 64
	out := make([]byte, ehsize)
	offs := make([]uint64, len(sections))
	for i, s := range sections {
		for len(out)%8 != 0 {
			out = append(out, 0)
		}
		offs[i] = uint64(len(out))
		out = append(out, s.data...)
	}
	for len(out)%8 != 0 {
		out = append(out, 0)
	}
	shoff := uint64(len(out))
	var hdrs bytes.Buffer
	for i, s := range sections {
		size := uint64(len(s.data))
		if s.typ == elf.SHT_NOBITS {
			size = s.size
		}
		if i == 0 {
			offs[i] = 0
		}
		_ = binary.Write(&hdrs, order, elf.Section64{
			Name: names[i], Type: uint32(s.typ), Flags: uint64(s.flags), Off: offs[i], Size: size,
			Link: s.link, Info: s.info, Addralign: s.align, Entsize: s.entsize,
		})
	}
	out = append(out, hdrs.Bytes()...)

	data := byte(elf.ELFDATA2LSB)
	if order == binary.BigEndian {
		data = byte(elf.ELFDATA2MSB)
	}
	var ident [elf.EI_NIDENT]byte
	copy(ident[:], elf.ELFMAG)
	ident[elf.EI_CLASS], ident[elf.EI_DATA], ident[elf.EI_VERSION] = byte(elf.ELFCLASS64), data, byte(elf.EV_CURRENT)
	var hdr bytes.Buffer
	_ = binary.Write(&hdr, order, elf.Header64{
		Ident: ident, Type: uint16(elf.ET_REL), Machine: uint16(elf.EM_BPF), Version: uint32(elf.EV_CURRENT),
		Shoff: shoff, Ehsize: ehsize, Shentsize: shentsize, Shnum: uint16(len(sections)), Shstrndx: 1,
	})
	copy(out, hdr.Bytes())
	return slices.Clip(out)
}

// ReplaceSection returns a copy of the ELF object obj whose section name holds data
// instead: data is appended and the section header points at it, so that every other
// section stays where it was. obj must be a 64-bit ELF.
func ReplaceSection(obj []byte, name string, data []byte) ([]byte, error) {
	f, err := elf.NewFile(bytes.NewReader(obj))
	if err != nil {
		return nil, err
	}
	if f.Class != elf.ELFCLASS64 {
		return nil, fmt.Errorf("%s ELF, want 64-bit", f.Class)
	}
	idx := -1
	for i, s := range f.Sections {
		if s.Name == name {
			idx = i
		}
	}
	if idx < 0 {
		return nil, fmt.Errorf("no section %s", name)
	}
	order := f.ByteOrder
	shoff := order.Uint64(obj[0x28:])
	shentsize := uint64(order.Uint16(obj[0x3a:]))
	out := slices.Clone(obj)
	for len(out)%8 != 0 {
		out = append(out, 0)
	}
	off := uint64(len(out))
	out = append(out, data...)
	hdr := out[shoff+uint64(idx)*shentsize:]
	order.PutUint64(hdr[24:], off)               // sh_offset
	order.PutUint64(hdr[32:], uint64(len(data))) // sh_size
	return out, nil
}
