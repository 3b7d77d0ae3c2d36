package spinlock

import (
	"bytes"
	"debug/elf"
	"encoding/binary"
	"strings"
)

// renameBSSSubsections makes named .bss sub-sections (SEC(".bss.A"), which libbpf
// accepts and KERNEL-RULES G3 recommends) readable by cilium/ebpf, whose ELF reader only
// knows ".bss" itself and refuses relocations against ".bss.A". It renames, in a copy of
// the object, ".bss.X" to ".dataX" (same length, a name the reader treats as global data,
// NOBITS included) both in the section-name table and in the BTF string table, where the
// DATASEC carries the same name. It returns the bytes to parse and the renames made
// (new name → original). Anything it cannot do safely it leaves alone.
func renameBSSSubsections(data []byte) ([]byte, map[string]string) {
	f, err := elf.NewFile(bytes.NewReader(data))
	if err != nil || f.Class != elf.ELFCLASS64 {
		return data, nil
	}
	names := make(map[string]bool, len(f.Sections))
	for _, s := range f.Sections {
		names[s.Name] = true
	}
	var targets []int
	for i, s := range f.Sections {
		if strings.HasPrefix(s.Name, ".bss.") && len(s.Name) > len(".bss.") && !names[".data"+s.Name[len(".bss."):]] {
			targets = append(targets, i)
		}
	}
	if len(targets) == 0 {
		return data, nil
	}
	bo := f.ByteOrder
	if len(data) < 64 {
		return data, nil
	}
	shoff := bo.Uint64(data[0x28:])
	shentsize := uint64(bo.Uint16(data[0x3A:]))
	shstrndx := int(bo.Uint16(data[0x3E:]))
	if shentsize < 64 || shstrndx <= 0 || shstrndx >= len(f.Sections) {
		return data, nil
	}
	strtab := f.Sections[shstrndx]
	out := bytes.Clone(data)
	renames := make(map[string]string)
	for _, i := range targets {
		hdr := shoff + uint64(i)*shentsize
		if hdr > uint64(len(data)) || uint64(len(data))-hdr < 4 {
			continue
		}
		nameOff := uint64(bo.Uint32(data[hdr:]))
		pos := strtab.Offset + nameOff
		old := f.Sections[i].Name
		if pos > uint64(len(data)) || uint64(len(data))-pos < uint64(len(old)) || string(data[pos:pos+uint64(len(old))]) != old {
			continue
		}
		if !patchBTFString(out, f, old) {
			continue
		}
		newName := ".data" + old[len(".bss."):]
		copy(out[pos:], newName)
		renames[newName] = old
	}
	if len(renames) == 0 {
		return data, nil
	}
	return out, renames
}

// patchBTFString renames the NUL-delimited string old to ".data"+suffix in the .BTF
// string table of out. It reports whether it did (or whether there is no BTF at all).
func patchBTFString(out []byte, f *elf.File, old string) bool {
	sec := f.Section(".BTF")
	if sec == nil {
		return true
	}
	if sec.Offset > uint64(len(out)) || sec.Size > uint64(len(out))-sec.Offset || sec.Size < 24 {
		return false
	}
	b := out[sec.Offset : sec.Offset+sec.Size]
	var bo binary.ByteOrder = binary.LittleEndian
	switch {
	case b[0] == 0x9f && b[1] == 0xeb:
	case b[0] == 0xeb && b[1] == 0x9f:
		bo = binary.BigEndian
	default:
		return false
	}
	hdrLen := uint64(bo.Uint32(b[4:]))
	strOff := uint64(bo.Uint32(b[16:]))
	strLen := uint64(bo.Uint32(b[20:]))
	start := hdrLen + strOff
	if start > uint64(len(b)) || strLen > uint64(len(b))-start {
		return false
	}
	strs := b[start : start+strLen]
	needle := append(append([]byte{0}, old...), 0)
	at := bytes.Index(strs, needle)
	if at < 0 {
		return true // no DATASEC of that name: nothing to keep in step
	}
	copy(strs[at+1:], ".data"+old[len(".bss."):])
	return true
}
