// SPDX-License-Identifier: Apache-2.0

// Package objfile reads a BPF ELF object once for the packages that need it whole: the
// spin-lock check (its programs, maps and BTF) and the loader (its BTF, for the globals).
// A parse is kept for the next caller with the same bytes, so that Open and the check
// Load runs share one.
package objfile

import (
	"bytes"
	"crypto/sha256"
	"debug/elf"
	"encoding/binary"
	"fmt"
	"sync"

	"github.com/cilium/ebpf"
)

// Parsed is an object as cilium/ebpf reads it. It is shared: callers must not change it.
type Parsed struct {
	Spec *ebpf.CollectionSpec
	// Renames maps a section name the reader saw to the object's own (".dataA" for
	// ".bss.A", see renameBSSSubsections).
	Renames map[string]string
	// Changed says the bytes were rewritten before reading (see prepareObject): Spec's
	// BTF is then not exactly the object's, and a loader must read its own.
	Changed bool
}

// Parse reads the object (a panic in the reader is turned into an error: the bytes are
// untrusted). The caller bounds the object first (BoundSections).
func Parse(data []byte) (*Parsed, error) {
	key := sha256.Sum256(data)
	if p := parses.get(key); p != nil {
		return p, nil
	}
	p, err := parse(data)
	if err == nil && len(data) <= maxCached {
		parses.put(key, p)
	}
	return p, err
}

func parse(data []byte) (p *Parsed, err error) {
	prep := prepareObject(data)
	defer func() {
		if r := recover(); r != nil {
			p, err = nil, fmt.Errorf("parse ELF: %v", r)
		}
	}()
	spec, err := ebpf.LoadCollectionSpecFromReader(bytes.NewReader(prep.data))
	if err != nil {
		return nil, err
	}
	return &Parsed{Spec: spec, Renames: prep.renames, Changed: prep.copied}, nil
}

// The last few parses, for objects up to maxCached bytes (a parse holds every
// instruction: a few times the object's size).
const (
	cachedParses = 4
	maxCached    = 4 << 20
)

type parseCache struct {
	mu   sync.Mutex
	keys [cachedParses][sha256.Size]byte
	vals [cachedParses]*Parsed
	next int
}

var parses parseCache

func (c *parseCache) get(k [sha256.Size]byte) *Parsed {
	c.mu.Lock()
	defer c.mu.Unlock()
	for i, v := range c.vals {
		if v != nil && c.keys[i] == k {
			return v
		}
	}
	return nil
}

func (c *parseCache) put(k [sha256.Size]byte, p *Parsed) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.keys[c.next], c.vals[c.next] = k, p
	c.next = (c.next + 1) % cachedParses
}

// CheckBTF refuses an object whose .BTF section is malformed (libbpf refuses such an
// object when its maps need BTF): its header, and the records of its types.
func CheckBTF(data []byte, f *elf.File) error {
	if f.Section(".BTF") == nil {
		return nil
	}
	r, ok := btfSection(data, f)
	if !ok {
		return fmt.Errorf("section .BTF: malformed header")
	}
	if r.bo.Uint16(r.b[0:]) != 0xeb9f || r.b[2] != 1 {
		return fmt.Errorf("section .BTF: unsupported version %d", r.b[2])
	}
	if _, ok := btfTypeOffsets(r); !ok {
		return fmt.Errorf("section .BTF: malformed type records")
	}
	return nil
}

// MaxNoBits bounds the zero-filled sections (.bss) the reader allocates (it does not
// touch them: big variables are not copied, see prepareObject). sched_ext schedulers
// have .bss sections of 158 MiB; a value past 1 GiB is not one the kernel creates here.
const MaxNoBits = 1 << 30

// codeInFile reports whether code section s lies in the object's size bytes: a
// zero-filled "code" section claims any size, and the reader makes room for each
// instruction.
func codeInFile(s *elf.Section, size int) bool {
	return s.Type == elf.SHT_PROGBITS && s.Offset <= uint64(size) && s.Size <= uint64(size)-s.Offset
}

// BoundSections refuses objects whose sections claim more memory than the object (of
// size bytes) holds, or, for .bss-like sections, than any real BPF object needs: the
// reader would allocate it. Code must be in the file: a zero-filled section of
// instructions can claim any size, and the reader makes room for each instruction.
func BoundSections(f *elf.File, size int) error {
	var total uint64
	for _, s := range f.Sections {
		if s.Flags&elf.SHF_EXECINSTR != 0 && !codeInFile(s, size) {
			return fmt.Errorf("section %s: %d bytes of code that the object (%d bytes) does not hold", s.Name, s.Size, size)
		}
		if s.Type == elf.SHT_NOBITS {
			total += s.Size
			if s.Size > MaxNoBits || total > MaxNoBits {
				return fmt.Errorf("section %s: %d zero-filled bytes is more than the check reads (%d)", s.Name, s.Size, MaxNoBits)
			}
		}
	}
	return nil
}

// LockTypeNames are the names the kernel finds special fields by (spinlock's kindNames
// must be among them: a test holds them together).
var LockTypeNames = []string{
	"bpf_spin_lock", "bpf_timer", "bpf_wq", "bpf_list_head", "bpf_rb_root",
	"bpf_res_spin_lock", "bpf_list_node", "bpf_rb_node", "bpf_refcount",
}

// Helper function IDs (enum bpf_func_id) that every instruction rule starts from.
const (
	helperSpinLock   = 93
	helperSpinUnlock = 94
)

// MentionsLocks reports whether the object can break a spin-lock rule at all, which a
// scan of its raw bytes tells far faster than parsing it: its BTF names one of the
// kernel's special types (the kernel itself finds locks, timers … by these names), or
// its code calls bpf_spin_lock or bpf_spin_unlock (every instruction rule, and M1 for a
// map without BTF, starts at such a call). A section it cannot read counts as a mention.
func MentionsLocks(f *elf.File) bool {
	for _, s := range f.Sections {
		switch {
		case s.Name == ".BTF":
			b, err := s.Data()
			if err != nil {
				return true
			}
			for _, name := range LockTypeNames {
				if bytes.Contains(b, []byte(name)) {
					return true
				}
			}
		case s.Type == elf.SHT_PROGBITS && s.Flags&elf.SHF_EXECINSTR != 0:
			b, err := s.Data()
			if err != nil {
				return true
			}
			if callsSpinLockHelper(b, f.ByteOrder) {
				return true
			}
		}
	}
	return false
}

// callsSpinLockHelper reports whether BPF code calls bpf_spin_lock or bpf_spin_unlock:
// a helper call is opcode BPF_JMP|BPF_CALL (0x85) with source register 0 and the helper
// ID in imm. The second half of an ld_imm64 has opcode 0, so scanning every 8-byte slot
// cannot mistake it for a call.
func callsSpinLockHelper(code []byte, order binary.ByteOrder) bool {
	for i := 0; i+8 <= len(code); i += 8 {
		if code[i] != 0x85 {
			continue
		}
		src := code[i+1] >> 4 // little-endian: dst in the low nibble, src in the high one
		if order == binary.BigEndian {
			src = code[i+1] & 0x0f
		}
		imm := int32(order.Uint32(code[i+4 : i+8]))
		if src == 0 && (imm == helperSpinLock || imm == helperSpinUnlock) {
			return true
		}
	}
	return false
}
