// SPDX-License-Identifier: Apache-2.0

package spinlock

import (
	"errors"
	"fmt"
	"strings"
	"testing"

	"github.com/cilium/ebpf"
	"github.com/cilium/ebpf/asm"
	"github.com/cilium/ebpf/btf"
	"golang.org/x/sys/unix"

	"github.com/bpfkit/bpfkit/internal/testutil"
)

// I9 on every overlap of the lock word: a load, a store (of an immediate and of a
// register) and an atomic add of each size at each byte offset of a value, against the
// lock's 4 bytes. Those that touch any byte of the lock are I9; those that end right
// before it or start right after it are not. The check answers each from its rules; the
// running kernel answers the spin-lock ones by loading them (TestOverlapKernel).

var (
	// struct ov { u32 a; struct bpf_spin_lock lock; u32 b; u32 c; }: the lock at 4..8.
	ovType = &btf.Struct{Name: "ov", Size: 16, Members: []btf.Member{
		{Name: "a", Type: u32Type},
		{Name: "lock", Type: lockType, Offset: 32},
		{Name: "b", Type: u32Type, Offset: 64},
		{Name: "c", Type: u32Type, Offset: 96},
	}}
	// struct rov { struct bpf_res_spin_lock lock; u32 a; u64 b; }: the res lock at 0..4.
	rovType = &btf.Struct{Name: "rov", Size: 16, Members: []btf.Member{
		{Name: "lock", Type: resLockType},
		{Name: "a", Type: u32Type, Offset: 32},
		{Name: "b", Type: &btf.Int{Name: "unsigned long long", Size: 8}, Offset: 64},
	}}
)

// overlapCase is one access of size bytes at off into the value of map "m".
type overlapCase struct {
	kind string // load, store, storex, atomic
	off  int
	size int
}

func (c overlapCase) String() string {
	return fmt.Sprintf("%s %d byte(s) at %d", c.kind, c.size, c.off)
}

// overlaps reports whether [off, off+size) touches the 4-byte lock at lock.
func (c overlapCase) overlaps(lock int) bool { return c.off < lock+4 && lock < c.off+c.size }

// at is the raw index (in 8-byte slots) of the access in insns.
func (c overlapCase) at() int {
	insns := c.insns()
	n := 0
	for _, ins := range insns[:len(insns)-3] { // exitBlock is two instructions
		n += int(ins.Width())
	}
	return n
}

// insns is `r6 = lookup(&m, 0); if (!r6) return 0; <access>; return 0`.
func (c overlapCase) insns() asm.Instructions {
	sz := map[int]asm.Size{1: asm.Byte, 2: asm.Half, 4: asm.Word, 8: asm.DWord}[c.size]
	var access asm.Instructions
	switch c.kind {
	case "load":
		access = one(asm.LoadMem(asm.R1, asm.R6, int16(c.off), sz))
	case "store": // asm.StoreImm refuses DWord, which BPF_ST has
		access = one(asm.Instruction{OpCode: asm.StoreImmOp(sz), Dst: asm.R6, Offset: int16(c.off)})
	case "storex":
		access = one(asm.Mov.Imm(asm.R1, 0), asm.StoreMem(asm.R6, int16(c.off), asm.R1, sz))
	case "atomic":
		access = one(asm.Mov.Imm(asm.R1, 1), asm.AddAtomic.Mem(asm.R6, asm.R1, sz, int16(c.off)))
	}
	return seq(lookup("m", asm.R6, "out"), access, exitBlock("out"))
}

// overlapCases lists every access of every size at every offset inside a value of
// valueSize bytes (atomics only where aligned: the kernel refuses misaligned ones for
// another reason).
func overlapCases(valueSize int) []overlapCase {
	var cases []overlapCase
	for _, kind := range []string{"load", "store", "storex", "atomic"} {
		for _, size := range []int{1, 2, 4, 8} {
			if kind == "atomic" && size < 4 {
				continue
			}
			for off := 0; off+size <= valueSize; off++ {
				if kind == "atomic" && off%size != 0 {
					continue
				}
				cases = append(cases, overlapCase{kind, off, size})
			}
		}
	}
	return cases
}

// overlapSpec is testSpec with map "m"'s value replaced by value.
func overlapSpec(c overlapCase, value *btf.Struct) *ebpf.CollectionSpec {
	spec := testSpec("tc", map[string]asm.Instructions{"prog": c.insns()})
	m := spec.Maps["m"]
	m.Value, m.ValueSize = value, value.Size
	return spec
}

func TestLockWordOverlaps(t *testing.T) {
	for _, tt := range []struct {
		name   string
		value  *btf.Struct
		lock   int
		kind   string // the lock's type in the message
		v      Version
		checks int // how many cases must touch the lock, how many not: a floor, so the table cannot shrink unseen
	}{
		{"bpf_spin_lock at 4", ovType, 4, "bpf_spin_lock", v6_18, 40},
		{"bpf_spin_lock at 4, 6.1", ovType, 4, "bpf_spin_lock", v6_1, 40},
		{"bpf_res_spin_lock at 0", rovType, 0, "bpf_res_spin_lock", v6_18, 20},
	} {
		t.Run(tt.name, func(t *testing.T) {
			var hit, miss int
			for _, c := range overlapCases(int(tt.value.Size)) {
				rep := checkSpec(t, tt.v, overlapSpec(c, tt.value))
				var rules []string
				var i9 *Finding
				for i, f := range rep.Findings {
					if f.Severity == SeverityError {
						rules = append(rules, f.Rule)
						if f.Rule == RuleI9 {
							i9 = &rep.Findings[i]
						}
					}
				}
				if !c.overlaps(tt.lock) {
					miss++
					if len(rules) != 0 {
						t.Errorf("%s (lock at %d..%d): errors %v, want none: %v", c, tt.lock, tt.lock+4, rules, rep.Findings)
					}
					continue
				}
				hit++
				if len(rules) != 1 || i9 == nil {
					t.Errorf("%s (lock at %d..%d): errors %v, want [I9]: %v", c, tt.lock, tt.lock+4, rules, rep.Findings)
					continue
				}
				words := tt.kind + " cannot be accessed directly by load/store"
				at := fmt.Sprintf("%d byte(s) at offset %d", c.size, c.off)
				if !strings.Contains(i9.Message, words) || !strings.Contains(i9.Message, at) || i9.Insn != c.at() {
					t.Errorf("%s: I9 at instruction %d (want %d, the access), message %q lacks %q or %q", c, i9.Insn, c.at(), i9.Message, words, at)
				}
			}
			if hit < tt.checks || miss < tt.checks {
				t.Fatalf("%d accesses touch the lock and %d do not, want at least %d of each", hit, miss, tt.checks)
			}
			t.Logf("%d accesses touch the lock (I9), %d do not", hit, miss)
		})
	}
}

// TestOverlapKernel loads every case of TestLockWordOverlaps into the running kernel (the
// res lock's on 6.15 and later): the kernel's verdict (EACCES with I9's words, or a load)
// must be the one the overlap predicts, and the check's for the running kernel.
func TestOverlapKernel(t *testing.T) {
	testutil.RequirePrivileged(t)
	kernel, err := RunningKernel()
	if err != nil {
		t.Fatal(err)
	}
	for _, tt := range []struct {
		value *btf.Struct
		lock  int
		kind  string
		since Version
	}{
		{ovType, 4, "bpf_spin_lock", v6_1},
		{rovType, 0, "bpf_res_spin_lock", Version{6, 15}},
	} {
		t.Run(tt.kind, func(t *testing.T) {
			if !kernel.AtLeast(tt.since.Major, tt.since.Minor) {
				t.Skipf("kernel %s has no %s (since %s)", kernel, tt.kind, tt.since)
			}
			m, err := ebpf.NewMap(&ebpf.MapSpec{Name: "m", Type: ebpf.Hash, KeySize: 4, ValueSize: tt.value.Size, MaxEntries: 1, Key: u32Type, Value: tt.value})
			if err != nil {
				t.Fatalf("creating a map whose value holds a %s: %v", tt.kind, err)
			}
			defer m.Close()
			words := tt.kind + " cannot be accessed directly by load/store"
			var refused, loaded int
			for _, c := range overlapCases(int(tt.value.Size)) {
				insns := link(c.insns())
				if err := insns.AssociateMap("m", m); err != nil {
					t.Fatal(err)
				}
				prog, err := ebpf.NewProgramWithOptions(&ebpf.ProgramSpec{Name: "overlap", Type: ebpf.SchedCLS, License: "GPL", Instructions: insns},
					ebpf.ProgramOptions{LogSizeStart: 1 << 16})
				kernelRefuses := err != nil
				if err == nil {
					prog.Close()
					loaded++
				} else {
					refused++
					var ve *ebpf.VerifierError
					if !errors.As(err, &ve) || !errors.Is(err, unix.EACCES) || !strings.Contains(strings.Join(ve.Log, "\n"), words) {
						t.Errorf("%s: the kernel refused it, but not with EACCES and %q: %v", c, words, err)
					}
				}
				if kernelRefuses != c.overlaps(tt.lock) {
					t.Errorf("%s (lock at %d..%d): kernel refuses = %v, overlap = %v", c, tt.lock, tt.lock+4, kernelRefuses, c.overlaps(tt.lock))
				}
				rep := checkSpec(t, kernel, overlapSpec(c, tt.value))
				if checkRefuses := rep.Err() != nil; checkRefuses != kernelRefuses {
					t.Errorf("%s: the %s kernel refuses = %v, the check for %s refuses = %v: %v", c, kernel, kernelRefuses, kernel, checkRefuses, rep.Findings)
				}
			}
			if refused == 0 || loaded == 0 {
				t.Fatalf("the kernel refused %d and loaded %d: the test proved nothing", refused, loaded)
			}
			t.Logf("kernel %s: %d accesses refused (I9), %d loaded; the check agrees on all", kernel, refused, loaded)
		})
	}
}
