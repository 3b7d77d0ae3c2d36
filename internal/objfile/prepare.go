// SPDX-License-Identifier: Apache-2.0

package objfile

import (
	"bytes"
	"cmp"
	"debug/elf"
	"encoding/binary"
	"slices"
	"strings"

	"github.com/bpfkit/bpfkit/internal/sys"
)

// cilium/ebpf's ELF reader refuses a few constructs libbpf opens: named .bss
// sub-sections, weak externs (`__kconfig __weak`), typed `__ksym` variables, and it
// copies out every variable of a zero-filled section (a 158 MiB .bss of a sched_ext
// scheduler). prepareObject rewrites, in a copy of the object, what the spin-lock check
// does not need to be exact, so that the reader accepts it: the lock rules depend on none
// of it (but the BTF is then not the object's own: Parsed.Changed).

// prepared is an object made readable, and what was changed to make it so.
type prepared struct {
	data    []byte
	copied  bool              // data is a copy, free to change
	renames map[string]string // new section name → original
	changes []string          // what was rewritten, for the report's notes
}

// bigVar is the size above which a variable of a zero-filled section is not copied out
// by the reader (its symbol's size is cut): the check only needs where it starts.
const bigVar = 1 << 16

func prepareObject(data []byte) prepared {
	p := prepared{data: data}
	f, err := elf.NewFile(bytes.NewReader(data))
	if err != nil || f.Class != elf.ELFCLASS64 || len(data) < 64 {
		return p
	}
	p.data, p.renames = renameBSSSubsections(data, f)
	p.copied = len(p.renames) > 0
	syms := rawSymbols(data, f)
	p.changes = append(p.changes, patchSymbols(&p, f, syms)...)
	if coverCodeGaps(&p, f, syms) {
		p.changes = append(p.changes, "code between functions read as part of the function before it")
	}
	shrinkBigDatasecVars(&p, f)
	if alignDatasecOffsets(&p, f, syms) {
		p.changes = append(p.changes, "variables placed where their ELF symbols say")
	}
	if untypeKsyms(&p, f) {
		p.changes = append(p.changes, "typed __ksym variables read as untyped")
	}
	return p
}

// cow makes p.data a copy of the object before the first change.
func (p *prepared) cow() []byte {
	if !p.copied {
		p.data, p.copied = bytes.Clone(p.data), true
	}
	return p.data
}

// patchSymbols makes weak symbols (weak __kconfig/__ksym externs, maps and variables
// defined __weak) global, as the reader wants them, and cuts the size of big variables in
// zero-filled sections.
func patchSymbols(p *prepared, f *elf.File, syms []rawSym) []string {
	bo := f.ByteOrder
	weak, big := 0, 0
	for _, sym := range syms {
		off, info, shndx, size := sym.off, sym.info, sym.shndx, sym.size
		switch {
		case elf.ST_BIND(info) == elf.STB_WEAK:
			// weak externs, and weak definitions (a map or variable defined __weak, as
			// sched_ext's libraries do): the reader refuses relocations against a
			// weak symbol; in one object, weak or global names the same thing
			out := p.cow()
			out[off+4] = byte(elf.STB_GLOBAL)<<4 | info&0xf
			weak++
		case shndx > 0 && shndx < len(f.Sections) && f.Sections[shndx].Type == elf.SHT_NOBITS && size > bigVar:
			out := p.cow()
			bo.PutUint64(out[off+16:], 8)
			big++
		}
	}
	var notes []string
	if weak > 0 {
		notes = append(notes, "weak symbols read as global")
	}
	if big > 0 {
		notes = append(notes, "large zero-filled variables not copied")
	}
	return notes
}

// renameBSSSubsections makes named .bss sub-sections (SEC(".bss.A"), which libbpf
// accepts and rule G3 of docs/SPINLOCK.md recommends) readable by cilium/ebpf, whose ELF
// reader only knows ".bss" itself and refuses relocations against ".bss.A". It renames, in a
// copy of the object, ".bss.X" to ".dataX" (same length, a name the reader treats as global
// data, NOBITS included) both in the section-name table and in the BTF string table, where
// the DATASEC carries the same name. An arena's section (".addr_space.N", the variables a
// program declares __arena, which the reader does not know either) becomes ".data.arena.N"
// the same way: the check then reads the arena's variables as global data, which holds no
// lock, where the kernel sees plain memory of the arena map. It returns the bytes to parse
// and the renames made (new name → original). Anything it cannot do safely it leaves alone.
func renameBSSSubsections(data []byte, f *elf.File) ([]byte, map[string]string) {
	names := make(map[string]bool, len(f.Sections))
	for _, s := range f.Sections {
		names[s.Name] = true
	}
	var targets []int
	var newNames []string
	for i, s := range f.Sections {
		if n, ok := readableName(s.Name); ok && !names[n] {
			targets = append(targets, i)
			newNames = append(newNames, n)
		}
	}
	if len(targets) == 0 {
		return data, nil
	}
	bo := f.ByteOrder
	shoff := bo.Uint64(data[0x28:])
	shentsize := uint64(bo.Uint16(data[0x3A:]))
	shstrndx := int(bo.Uint16(data[0x3E:]))
	if shentsize < 64 || shstrndx <= 0 || shstrndx >= len(f.Sections) {
		return data, nil
	}
	strtab := f.Sections[shstrndx]
	out := bytes.Clone(data)
	renames := make(map[string]string)
	for t, i := range targets {
		hdr := shoff + uint64(i)*shentsize
		if hdr > uint64(len(data)) || uint64(len(data))-hdr < 4 {
			continue
		}
		nameOff := uint64(bo.Uint32(data[hdr:]))
		pos := strtab.Offset + nameOff
		old, newName := f.Sections[i].Name, newNames[t]
		if pos > uint64(len(data)) || uint64(len(data))-pos < uint64(len(old)) || string(data[pos:pos+uint64(len(old))]) != old {
			continue
		}
		if !patchBTFString(out, f, old, newName) {
			continue
		}
		copy(out[pos:], newName)
		renames[newName] = old
	}
	if len(renames) == 0 {
		return data, nil
	}
	return out, renames
}

// readableName is the name, of the same length, under which cilium/ebpf's reader reads a
// section it does not know: ".bss.X" → ".dataX", ".addr_space.N" → ".data.arena.N".
func readableName(name string) (string, bool) {
	for _, r := range [...]struct{ from, to string }{{".bss.", ".data"}, {".addr_space.", ".data.arena."}} {
		if rest, ok := strings.CutPrefix(name, r.from); ok && rest != "" {
			return r.to + rest, true
		}
	}
	return "", false
}

// rawBTF is the .BTF section of an object, as bytes, with its header read.
type rawBTF struct {
	b          []byte // the section
	bo         binary.ByteOrder
	types, str []byte
}

func btfSection(out []byte, f *elf.File) (rawBTF, bool) {
	sec := f.Section(".BTF")
	if sec == nil || sec.Offset > uint64(len(out)) || sec.Size > uint64(len(out))-sec.Offset || sec.Size < 24 {
		return rawBTF{}, false
	}
	b := out[sec.Offset : sec.Offset+sec.Size]
	r := rawBTF{b: b, bo: binary.LittleEndian}
	switch {
	case b[0] == 0x9f && b[1] == 0xeb:
	case b[0] == 0xeb && b[1] == 0x9f:
		r.bo = binary.BigEndian
	default:
		return rawBTF{}, false
	}
	hdrLen := uint64(r.bo.Uint32(b[4:]))
	typeOff, typeLen := uint64(r.bo.Uint32(b[8:])), uint64(r.bo.Uint32(b[12:]))
	strOff, strLen := uint64(r.bo.Uint32(b[16:])), uint64(r.bo.Uint32(b[20:]))
	if hdrLen > uint64(len(b)) {
		return rawBTF{}, false
	}
	rest := uint64(len(b)) - hdrLen
	if typeOff > rest || typeLen > rest-typeOff || strOff > rest || strLen > rest-strOff {
		return rawBTF{}, false
	}
	r.types = b[hdrLen+typeOff : hdrLen+typeOff+typeLen]
	r.str = b[hdrLen+strOff : hdrLen+strOff+strLen]
	return r, true
}

// patchBTFString renames the NUL-delimited string old to newName, of the same length, in
// the .BTF string table of out. It reports whether it did (or whether there is no BTF at
// all).
func patchBTFString(out []byte, f *elf.File, old, newName string) bool {
	if f.Section(".BTF") == nil {
		return true
	}
	r, ok := btfSection(out, f)
	if !ok {
		return false
	}
	needle := append(append([]byte{0}, old...), 0)
	at := bytes.Index(r.str, needle)
	if at < 0 {
		return true // no DATASEC of that name: nothing to keep in step
	}
	copy(r.str[at+1:], newName)
	return true
}

// BTF kinds (include/uapi/linux/btf.h) whose records the walk below must step over.
const (
	btfKindInt      = 1
	btfKindArray    = 3
	btfKindStruct   = 4
	btfKindUnion    = 5
	btfKindEnum     = 6
	btfKindFuncProt = 13
	btfKindVar      = 14
	btfKindDatasec  = 15
	btfKindDeclTag  = 17
	btfKindEnum64   = 19
	btfTypeHdr      = 12
)

// btfTypeOffsets returns the offset of each type's record in r.types, by type ID (ID 0
// is void and has none), or false when the section is malformed.
func btfTypeOffsets(r rawBTF) ([]int, bool) {
	offs := []int{-1}
	for off := 0; off < len(r.types); {
		if len(r.types)-off < btfTypeHdr || len(offs) > 1<<20 {
			return nil, false
		}
		info := r.bo.Uint32(r.types[off+4:])
		kind, vlen := (info>>24)&0x1f, int(info&0xffff)
		n := btfTypeHdr
		switch kind {
		case btfKindInt, btfKindVar, btfKindDeclTag:
			n += 4
		case btfKindArray:
			n += 12
		case btfKindStruct, btfKindUnion, btfKindDatasec, btfKindEnum64:
			n += 12 * vlen
		case btfKindEnum, btfKindFuncProt:
			n += 8 * vlen
		}
		if n > len(r.types)-off {
			return nil, false
		}
		offs = append(offs, off)
		off += n
	}
	return offs, true
}

// shrinkBigDatasecVars cuts, in the DATASEC of each zero-filled section, the size of
// the variables patchSymbols cut (the reader checks that the two agree).
func shrinkBigDatasecVars(p *prepared, f *elf.File) {
	nobits := make(map[string]bool)
	for _, s := range f.Sections {
		if s.Type == elf.SHT_NOBITS {
			nobits[s.Name] = true
		}
	}
	if len(nobits) == 0 {
		return
	}
	r, ok := btfSection(p.data, f)
	if !ok {
		return
	}
	offs, ok := btfTypeOffsets(r)
	if !ok {
		return
	}
	var patch []int // offsets of secinfo size fields
	for _, off := range offs[1:] {
		info := r.bo.Uint32(r.types[off+4:])
		if (info>>24)&0x1f != btfKindDatasec || !nobits[btfName(r, r.bo.Uint32(r.types[off:]))] {
			continue
		}
		for i := range int(info & 0xffff) {
			at := off + btfTypeHdr + 12*i + 8
			if r.bo.Uint32(r.types[at:]) > bigVar {
				patch = append(patch, at)
			}
		}
	}
	if len(patch) == 0 {
		return
	}
	out := p.cow()
	r, _ = btfSection(out, f)
	for _, at := range patch {
		r.bo.PutUint32(r.types[at:], 8)
	}
}

// btfName reads a string of the BTF string table.
func btfName(r rawBTF, off uint32) string {
	if int(off) >= len(r.str) {
		return ""
	}
	end := bytes.IndexByte(r.str[off:], 0)
	if end < 0 {
		return ""
	}
	return string(r.str[off : int(off)+end])
}

// untypeKsyms makes the typed variables of the .ksyms DATASEC untyped (their VAR points
// at void), which is what the reader accepts; the check never reads kernel symbols.
func untypeKsyms(p *prepared, f *elf.File) bool {
	r, ok := btfSection(p.data, f)
	if !ok || !bytes.Contains(r.str, []byte("\x00.ksyms\x00")) {
		return false
	}
	offs, ok := btfTypeOffsets(r)
	if !ok {
		return false
	}
	name := func(off uint32) string { return btfName(r, off) }
	var patch []int // offsets of VAR records to untype
	for _, off := range offs[1:] {
		info := r.bo.Uint32(r.types[off+4:])
		if (info>>24)&0x1f != btfKindDatasec || name(r.bo.Uint32(r.types[off:])) != ".ksyms" {
			continue
		}
		vlen := int(info & 0xffff)
		for i := range vlen {
			id := int(r.bo.Uint32(r.types[off+btfTypeHdr+12*i:]))
			if id <= 0 || id >= len(offs) {
				continue
			}
			vo := offs[id]
			vinfo := r.bo.Uint32(r.types[vo+4:])
			if (vinfo>>24)&0x1f == btfKindVar && r.bo.Uint32(r.types[vo+8:]) != 0 {
				patch = append(patch, vo)
			}
		}
	}
	if len(patch) == 0 {
		return false
	}
	out := p.cow()
	r, _ = btfSection(out, f)
	for _, vo := range patch {
		r.bo.PutUint32(r.types[vo+8:], 0)
	}
	return true
}

// coverCodeGaps extends, in a code section, each function's symbol over the instructions
// that follow it up to the next symbol. libbpf's linker leaves such unnamed code when two
// parts define the same __weak function (the second copy stays, without its symbol) and
// keeps its func and line info. cilium/ebpf's reader decodes only the instructions symbols
// cover and counts the ext info's offsets over those alone, so after a gap every function
// would take the BTF (its linkage: static or global) and source lines of the one before.
// Covered, the gap is unreachable code at the end of the function before it, and the
// offsets agree again. It reports whether it changed anything.
func coverCodeGaps(p *prepared, f *elf.File, syms []rawSym) bool {
	orig := p.data
	bo := f.ByteOrder
	bySection := map[int][]rawSym{}
	for _, sym := range syms {
		shndx := sym.shndx
		if elf.ST_TYPE(sym.info) != elf.STT_FUNC || shndx <= 0 || shndx >= len(f.Sections) {
			continue
		}
		if sec := f.Sections[shndx]; sec.Flags&elf.SHF_EXECINSTR == 0 || !codeInFile(sec, len(orig)) {
			continue
		}
		bySection[shndx] = append(bySection[shndx], sym)
	}
	changed := false
	for shndx, fns := range bySection {
		end := f.Sections[shndx].Size
		slices.SortFunc(fns, func(a, b rawSym) int { return cmp.Compare(a.value, b.value) })
		for i, s := range fns {
			next := end
			if i+1 < len(fns) {
				next = fns[i+1].value
			}
			if s.size == 0 || s.value+s.size >= next || next > end || (next-s.value)%8 != 0 {
				continue // no gap, or symbols that overlap or do not fit: leave them be
			}
			out := p.cow()
			bo.PutUint64(out[s.off+16:], next-s.value)
			changed = true
		}
	}
	return changed
}

// alignDatasecOffsets sets the offset of each variable of a global-data DATASEC to its
// ELF symbol's, where they differ. libbpf's linker leaves them apart when one part
// defines a variable __weak and another defines it strong (sched_ext's scx_lavd): the
// symbol moves to the strong copy, the DATASEC keeps the weak copy's offset, and
// cilium/ebpf's reader refuses the object. libbpf goes by the symbol. It reports whether it
// changed anything.
func alignDatasecOffsets(p *prepared, f *elf.File, syms []rawSym) bool {
	orig := p.data
	type key struct {
		sec  int
		name string
	}
	values := map[key]uint64{}
	for _, sym := range syms {
		if elf.ST_TYPE(sym.info) == elf.STT_OBJECT && sym.shndx > 0 && sym.shndx < len(f.Sections) && len(sym.name) > 0 {
			values[key{sym.shndx, string(sym.name)}] = sym.value
		}
	}
	secIndex := map[string]int{}
	for i, s := range f.Sections {
		secIndex[s.Name] = i
	}
	r, ok := btfSection(orig, f)
	if !ok {
		return false
	}
	offs, ok := btfTypeOffsets(r)
	if !ok {
		return false
	}
	type fix struct {
		at    int
		value uint32
	}
	var fixes []fix
	for _, off := range offs[1:] {
		info := r.bo.Uint32(r.types[off+4:])
		if (info>>24)&0x1f != btfKindDatasec {
			continue
		}
		sec, ok := secIndex[btfName(r, r.bo.Uint32(r.types[off:]))]
		if !ok || !sys.IsGlobalDataSection(f.Sections[sec].Name) {
			continue
		}
		for i := range int(info & 0xffff) {
			at := off + btfTypeHdr + 12*i
			id := int(r.bo.Uint32(r.types[at:]))
			if id <= 0 || id >= len(offs) {
				continue
			}
			v := offs[id]
			if (r.bo.Uint32(r.types[v+4:])>>24)&0x1f != btfKindVar {
				continue
			}
			value, ok := values[key{sec, btfName(r, r.bo.Uint32(r.types[v:]))}]
			size := uint64(r.bo.Uint32(r.types[at+8:]))
			if ok && value != uint64(r.bo.Uint32(r.types[at+4:])) && value+size <= f.Sections[sec].Size {
				fixes = append(fixes, fix{at + 4, uint32(value)})
			}
		}
	}
	if len(fixes) == 0 {
		return false
	}
	out := p.cow()
	r, _ = btfSection(out, f)
	for _, x := range fixes {
		r.bo.PutUint32(r.types[x.at:], x.value)
	}
	return true
}

// rawSym is one entry of an object's symbol table, read from its bytes (debug/elf's
// reader is not trusted not to panic on a malformed object): off is where the entry
// starts, so that a change can be written in a copy at the same place.
type rawSym struct {
	off         uint64
	name        []byte // in the object's string table: most symbols' names are never read
	info        byte
	shndx       int
	value, size uint64
}

// rawSymbols reads the symbol table of data once for the rewrites that need it (entry
// 0, the null symbol, left out). A table or name that does not lie within data is
// skipped: nil, or names left empty.
func rawSymbols(data []byte, f *elf.File) []rawSym {
	symtab := f.SectionByType(elf.SHT_SYMTAB)
	if symtab == nil || symtab.Offset > uint64(len(data)) || symtab.Size > uint64(len(data))-symtab.Offset {
		return nil
	}
	var strs []byte
	if l := int(symtab.Link); l > 0 && l < len(f.Sections) {
		if st := f.Sections[l]; st.Offset <= uint64(len(data)) && st.Size <= uint64(len(data))-st.Offset {
			strs = data[st.Offset : st.Offset+st.Size]
		}
	}
	bo := f.ByteOrder
	const symSize = 24
	syms := make([]rawSym, 0, symtab.Size/symSize)
	for off := symtab.Offset + symSize; off+symSize <= symtab.Offset+symtab.Size; off += symSize {
		sym := rawSym{off: off, info: data[off+4], shndx: int(bo.Uint16(data[off+6:])),
			value: bo.Uint64(data[off+8:]), size: bo.Uint64(data[off+16:])}
		if n := bo.Uint32(data[off:]); int(n) < len(strs) {
			name := strs[n:]
			if i := bytes.IndexByte(name, 0); i >= 0 {
				name = name[:i]
			}
			sym.name = name
		}
		syms = append(syms, sym)
	}
	return syms
}

// AlignedBTF returns data with each variable of a global-data DATASEC at the offset its
// ELF symbol gives (alignDatasecOffsets), or data itself when none differs. libbpf's
// linker leaves the DATASEC entry of a variable defined __weak in one part and strong in
// another at the weak copy's offset, while the code, and libbpf's relocations, use the
// symbol's (scx_lavd's is_autopilot_on): a global set at the DATASEC's offset is one the
// program never reads. The loader and gen read their BTF from this. The entries of a
// DATASEC that moved may no longer be in offset order. f is data as debug/elf read it.
func AlignedBTF(data []byte, f *elf.File) []byte {
	if f == nil || f.Class != elf.ELFCLASS64 || len(data) < 64 {
		return data
	}
	p := prepared{data: data}
	if alignDatasecOffsets(&p, f, rawSymbols(data, f)) {
		return p.data
	}
	return data
}
