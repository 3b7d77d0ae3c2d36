// SPDX-License-Identifier: Apache-2.0

package spinlock

import (
	"strings"
	"testing"

	"github.com/cilium/ebpf"
	"github.com/cilium/ebpf/asm"
	"github.com/cilium/ebpf/btf"
)

// Programs built instruction by instruction for the newer lock kinds and homes: the
// resilient lock, inner maps, and lock state carried through subprograms. The corpus
// (bpf/testdata/spinlock) checks the same rules against the kernel; these pin the
// walk's reasoning, one step at a time.

var (
	resLockType = &btf.Struct{Name: "bpf_res_spin_lock", Size: 4, Members: []btf.Member{{Name: "val", Type: u32Type}}}
	// struct rval { struct bpf_res_spin_lock lock; u32 cnt; }: the res lock at offset 0.
	resValType = &btf.Struct{Name: "rval", Size: 8, Members: []btf.Member{
		{Name: "lock", Type: resLockType},
		{Name: "cnt", Type: u32Type, Offset: 32},
	}}
)

// kfunc is a call of the kfunc name, as cilium/ebpf reads it from an object.
func kfunc(name string) asm.Instruction {
	return asm.Instruction{OpCode: asm.OpCode(asm.JumpClass).SetJumpOp(asm.Call), Src: asm.PseudoKfuncCall, Constant: -1}.WithReference(name)
}

// homesSpec is testSpec with two more maps: "r" (HASH of struct rval, a res lock) and
// "outer" (ARRAY_OF_MAPS whose inner maps hold struct val).
func homesSpec(progs map[string]asm.Instructions) *ebpf.CollectionSpec {
	spec := testSpec("tc", progs)
	spec.Maps["r"] = &ebpf.MapSpec{Name: "r", Type: ebpf.Hash, KeySize: 4, ValueSize: 8, MaxEntries: 1, Key: u32Type, Value: resValType}
	spec.Maps["r2"] = &ebpf.MapSpec{Name: "r2", Type: ebpf.Hash, KeySize: 4, ValueSize: 8, MaxEntries: 1, Key: u32Type, Value: resValType}
	spec.Maps["outer"] = &ebpf.MapSpec{Name: "outer", Type: ebpf.ArrayOfMaps, KeySize: 4, ValueSize: 4, MaxEntries: 1,
		InnerMap: &ebpf.MapSpec{Name: "inner", Type: ebpf.Hash, KeySize: 4, ValueSize: 8, MaxEntries: 1, Key: u32Type, Value: valType}}
	return spec
}

// resLock emits `if (bpf_res_spin_lock(&reg->lock + off)) goto fail;` as clang does for
// an int result: zero-extended by two shifts, then compared.
func resLock(reg asm.Register, off int32, fail string) asm.Instructions {
	return asm.Instructions{
		asm.Mov.Reg(asm.R1, reg), asm.Add.Imm(asm.R1, off), kfunc("bpf_res_spin_lock"),
		asm.LSh.Imm(asm.R0, 32), asm.RSh.Imm(asm.R0, 32), asm.JNE.Imm(asm.R0, 0, fail),
	}
}

// labeled puts label on the first instruction of the parts.
func labeled(label string, parts ...asm.Instructions) asm.Instructions {
	out := seq(parts...)
	out[0] = out[0].WithSymbol(label)
	return out
}

func resUnlock(reg asm.Register) asm.Instructions {
	return asm.Instructions{asm.Mov.Reg(asm.R1, reg), kfunc("bpf_res_spin_unlock")}
}

// innerLookup emits `dst = lookup(lookup(&outer, 0), 0)`, each checked for NULL.
func innerLookup(dst asm.Register, exit string) asm.Instructions {
	return seq(lookup("outer", asm.R9, exit), asm.Instructions{
		asm.StoreImm(asm.RFP, -8, 0, asm.Word),
		asm.Mov.Reg(asm.R2, asm.RFP),
		asm.Add.Imm(asm.R2, -8),
		asm.Mov.Reg(asm.R1, asm.R9),
		asm.FnMapLookupElem.Call(),
		asm.JEq.Imm(asm.R0, 0, exit),
		asm.Mov.Reg(dst, asm.R0),
	})
}

func TestHomesAndResLocks(t *testing.T) {
	// A static subprogram that looks the value up, locks it when found and returns it.
	lookupLocked := asm.Instructions{
		asm.StoreImm(asm.RFP, -4, 0, asm.Word).WithSymbol("lookup_locked"),
		asm.Mov.Reg(asm.R2, asm.RFP),
		asm.Add.Imm(asm.R2, -4),
		asm.LoadMapPtr(asm.R1, 0).WithReference("m"),
		asm.FnMapLookupElem.Call(),
		asm.Mov.Reg(asm.R6, asm.R0),
		asm.JEq.Imm(asm.R6, 0, "ll_out"),
		asm.Mov.Reg(asm.R1, asm.R6),
		asm.Add.Imm(asm.R1, 4),
		asm.FnSpinLock.Call(),
		asm.Mov.Reg(asm.R0, asm.R6).WithSymbol("ll_out"),
		asm.Return(),
	}
	releaseFn := asm.Instructions{
		asm.Add.Imm(asm.R1, 4).WithSymbol("release"),
		asm.FnSpinUnlock.Call(),
		asm.Mov.Imm(asm.R0, 0),
		asm.Return(),
	}
	tests := []struct {
		name    string
		v       Version
		insns   asm.Instructions
		want    []string // error rules, in order
		wordsIn string   // a fragment some error's message must hold
	}{
		{name: "res lock, checked", v: v6_18,
			insns: seq(lookup("r", asm.R6, "out"), resLock(asm.R6, 0, "out"), resUnlock(asm.R6), exitBlock("out"))},
		{name: "res lock, unchecked: the failed path unlocks nothing", v: v6_18,
			insns: seq(lookup("r", asm.R6, "out"), one(asm.Mov.Reg(asm.R1, asm.R6), kfunc("bpf_res_spin_lock")), resUnlock(asm.R6), exitBlock("out")),
			want:  []string{"I4"}, wordsIn: "bpf_res_spin_unlock without taking a lock"},
		{name: "res lock twice: AA", v: v6_18,
			insns: seq(lookup("r", asm.R6, "out"), resLock(asm.R6, 0, "out"), resLock(asm.R6, 0, "out"), resUnlock(asm.R6), resUnlock(asm.R6), exitBlock("out")),
			want:  []string{"R1"}, wordsIn: "AA deadlock detected"},
		{name: "two res locks, LIFO", v: v6_18,
			insns: seq(lookup("r", asm.R6, "out"), lookup("r2", asm.R7, "out"), resLock(asm.R6, 0, "out"), resLock(asm.R7, 0, "out1"),
				resUnlock(asm.R7), resUnlock(asm.R6), exitBlock("out"), labeled("out1", resUnlock(asm.R6), one(asm.Ja.Label("out"))))},
		{name: "two res locks, out of order", v: v6_18,
			insns: seq(lookup("r", asm.R6, "out"), lookup("r2", asm.R7, "out"), resLock(asm.R6, 0, "out"), resLock(asm.R7, 0, "out1"),
				resUnlock(asm.R6), resUnlock(asm.R7), exitBlock("out"), labeled("out1", resUnlock(asm.R6), one(asm.Ja.Label("out")))),
			want: []string{"R3"}, wordsIn: "bpf_res_spin_unlock cannot be out of order"},
		{name: "res lock on a map without one", v: v6_18,
			insns: seq(lookup("m", asm.R6, "out"), resLock(asm.R6, 0, "out"), resUnlock(asm.R6), exitBlock("out")),
			want:  []string{"R5"}, wordsIn: "has no valid bpf_res_spin_lock"},
		{name: "res lock at the wrong offset", v: v6_18,
			insns: seq(lookup("r", asm.R6, "out"), resLock(asm.R6, 4, "out"), exitBlock("out")),
			want:  []string{"R4"}, wordsIn: "off 4 doesn't point to 'struct bpf_res_spin_lock' that is at 0"},
		{name: "res lock on the stack", v: v6_18,
			insns: seq(resLock(asm.RFP, -8, "out"), exitBlock("out")),
			want:  []string{"R6"}},
		{name: "helper under a res lock", v: v6_18,
			insns: seq(lookup("r", asm.R6, "out"), resLock(asm.R6, 0, "out"), one(asm.FnKtimeGetNs.Call()), resUnlock(asm.R6), exitBlock("out")),
			want:  []string{"I1"}, wordsIn: "function calls are not allowed while holding a lock"},
		{name: "exit under a res lock", v: v6_18,
			insns: seq(lookup("r", asm.R6, "out"), resLock(asm.R6, 0, "out"), exitBlock("out")),
			want:  []string{"I6b"}},
		{name: "spin lock then res lock", v: v6_18,
			insns: seq(lookup("m", asm.R6, "out"), lookup("r", asm.R7, "out"), lockVia(asm.FnSpinLock, asm.R6, 4), resLock(asm.R7, 0, "fail"),
				resUnlock(asm.R7), lockVia(asm.FnSpinUnlock, asm.R6, 4), exitBlock("out"), labeled("fail", lockVia(asm.FnSpinUnlock, asm.R6, 4), one(asm.Ja.Label("out"))))},
		{name: "inner map lock and unlock", v: v6_18,
			insns: seq(innerLookup(asm.R6, "out"), lockVia(asm.FnSpinLock, asm.R6, 4), lockVia(asm.FnSpinUnlock, asm.R6, 4), exitBlock("out"))},
		{name: "two inner lookups are two locks", v: v6_18,
			insns: seq(innerLookup(asm.R6, "out"), innerLookup(asm.R7, "out"), lockVia(asm.FnSpinLock, asm.R6, 4), lockVia(asm.FnSpinUnlock, asm.R7, 4), exitBlock("out")),
			want:  []string{"I5"}, wordsIn: "another lookup of an inner map"},
		{name: "inner map lock word", v: v6_18,
			insns: seq(innerLookup(asm.R6, "out"), one(asm.LoadMem(asm.R1, asm.R6, 4, asm.Word)), exitBlock("out")),
			want:  []string{"I9"}},
		{name: "inner map value locked on 6.1: no map of maps", v: v6_1,
			insns: seq(innerLookup(asm.R6, "out"), lockVia(asm.FnSpinLock, asm.R6, 4), lockVia(asm.FnSpinUnlock, asm.R6, 4), exitBlock("out")),
			want:  []string{"M8"}, wordsIn: "failed to create"},
		// Issue 9's valid program: the lock travels in the returned pointer's NULL check.
		{name: "subprogram returns the locked value", v: v6_18,
			insns: seq(one(asm.Call.Label("lookup_locked")), one(asm.JEq.Imm(asm.R0, 0, "out")), one(asm.Mov.Reg(asm.R1, asm.R0), asm.Call.Label("release")),
				exitBlock("out"), lookupLocked, releaseFn)},
		{name: "subprogram returns the locked value, NULL check inverted", v: v6_18,
			insns: seq(one(asm.Call.Label("lookup_locked")), one(asm.JNE.Imm(asm.R0, 0, "out")), one(asm.Mov.Reg(asm.R1, asm.R0), asm.Call.Label("release")),
				exitBlock("out"), lookupLocked, releaseFn),
			// Both paths are wrong: the found value is never released, and NULL is
			// handed to the unlock (the kernel reports whichever it walks first).
			want: []string{"I6b", "I3"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			rep := checkSpec(t, tt.v, homesSpec(map[string]asm.Instructions{"prog": tt.insns}))
			var errs []string
			hasWords := tt.wordsIn == ""
			for _, f := range rep.Findings {
				if f.Severity == SeverityError {
					errs = append(errs, f.Rule)
					hasWords = hasWords || strings.Contains(f.Message, tt.wordsIn)
				}
			}
			if strings.Join(errs, ",") != strings.Join(tt.want, ",") {
				t.Errorf("errors %v, want %v; findings: %v", errs, tt.want, rep.Findings)
			}
			if !hasWords {
				t.Errorf("no error holds %q: %v", tt.wordsIn, rep.Findings)
			}
		})
	}
}
