// SPDX-License-Identifier: Apache-2.0

package spinlock

import (
	"github.com/cilium/ebpf/asm"
)

// A static analysis, run once per program before the walk, that says which registers
// and stack slots still matter at each instruction, so that the walk can prune a path
// whose state differs from one already walked only in what no longer matters (the
// verifier does the same with its liveness and precision marks):
//
//   - live: the value may still be read (by the interpreter) on some path from here;
//   - relevant: a scalar whose exact value may still decide something: a branch, a
//     pointer's offset, a kfunc's argument. A live scalar that is not relevant (a number
//     only stored to memory, or passed to a helper) is compared by kind only.
//
// Stack slots are followed through registers holding r10 plus a constant; where a stack
// address escapes further (stored to memory, or computed with an unknown offset) every
// slot of that function counts as live and relevant.

// regSet has a bit per register R0–R10.
type regSet uint16

// slotSet has a bit per 8-byte stack slot (bit 0 is fp-8).
type slotSet uint64

const allSlots = ^slotSet(0)

// liveSet is the registers and slots that matter before an instruction.
type liveSet struct {
	regs  regSet
	slots slotSet
}

func (a liveSet) union(b liveSet) liveSet { return liveSet{a.regs | b.regs, a.slots | b.slots} }

// progLiveness holds, per instruction, what is live and what is relevant before it.
type progLiveness struct {
	live, rel []liveSet
}

// fp lattice of the forward pass: what a register holds relative to r10.
type fpVal struct {
	kind uint8 // fpUnset, fpConst, fpAny, fpNot
	off  int64
}

const (
	fpUnset uint8 = iota // no path reached yet
	fpConst              // r10 + off
	fpAny                // may be a stack address at an unknown offset
	fpNot                // not a stack address
)

func (a fpVal) join(b fpVal) fpVal {
	switch {
	case a.kind == fpUnset:
		return b
	case b.kind == fpUnset:
		return a
	case a == b:
		return a
	case a.kind == fpNot && b.kind == fpNot:
		return a
	}
	return fpVal{kind: fpAny}
}

type fpRegs [11]fpVal

// funcRange is one function of the flattened program.
type funcRange struct{ start, end int }

// analyseLiveness computes liveness and relevance for p.
func analyseLiveness(p *progInfo) *progLiveness {
	n := len(p.insns)
	lv := &progLiveness{live: make([]liveSet, n), rel: make([]liveSet, n)}
	if n == 0 {
		return lv
	}
	funcs := p.functions()
	fnOf := make([]int, n)
	for fi, f := range funcs {
		for i := f.start; i < f.end; i++ {
			fnOf[i] = fi
		}
	}
	// Forward: which registers hold stack addresses, and whether a function lets one
	// escape (then all its slots matter everywhere).
	fp := make([]fpRegs, n)
	escapes := make([]bool, len(funcs))
	for fi, f := range funcs {
		escapes[fi] = p.fpForward(f, fp)
	}
	// Backward, to a fixpoint over all functions (callees' entries feed their callers).
	entry := make([]liveSet, len(funcs))    // live before each function's first instruction
	entryRel := make([]liveSet, len(funcs)) // relevant there
	for round := 0; round < 2*len(funcs)+4; round++ {
		changed := false
		for fi := len(funcs) - 1; fi >= 0; fi-- {
			f := funcs[fi]
			if p.backward(f, fp, escapes[fi], lv, entry, entryRel, fnOf) {
				changed = true
			}
			if lv.live[f.start] != entry[fi] || lv.rel[f.start] != entryRel[fi] {
				entry[fi], entryRel[fi] = lv.live[f.start], lv.rel[f.start]
				changed = true
			}
		}
		if !changed {
			break
		}
	}
	return lv
}

// functions splits the flattened program at its function entries (once).
func (p *progInfo) functions() []funcRange {
	if p.funcs != nil || len(p.insns) == 0 {
		return p.funcs
	}
	var starts []int
	for i := range p.insns {
		if _, ok := p.funcName[i]; ok || i == 0 {
			starts = append(starts, i)
		}
	}
	out := make([]funcRange, len(starts))
	for k, s := range starts {
		end := len(p.insns)
		if k+1 < len(starts) {
			end = starts[k+1]
		}
		out[k] = funcRange{s, end}
	}
	p.funcs = out
	return out
}

// succs calls f on each successor of instruction i inside function fr.
func (p *progInfo) succs(i int, fr funcRange, f func(int)) {
	ins := &p.insns[i]
	op := ins.OpCode
	if op.Class().IsJump() {
		switch op.JumpOp() {
		case asm.Exit:
			return
		case asm.Call:
		default:
			if t, ok := p.jumpTarget(i); ok && t >= fr.start && t < fr.end {
				f(t)
			}
			if op.JumpOp() == asm.Ja {
				return
			}
		}
	}
	if i+1 < fr.end {
		f(i + 1)
	}
}

// fpForward computes, for each instruction of fr, which registers hold r10 plus a
// constant before it. It returns true when a stack address escapes the analysis.
func (p *progInfo) fpForward(fr funcRange, fp []fpRegs) bool {
	var init fpRegs
	for r := range init {
		init[r] = fpVal{kind: fpNot}
	}
	init[asm.R10] = fpVal{kind: fpConst}
	seen := make([]bool, fr.end-fr.start)
	fp[fr.start] = init
	seen[0] = true
	work := []int{fr.start}
	escapes := false
	for len(work) > 0 {
		i := work[len(work)-1]
		work = work[:len(work)-1]
		out, esc := p.fpStep(i, fp[i])
		escapes = escapes || esc
		p.succs(i, fr, func(s int) {
			k := s - fr.start
			if !seen[k] {
				seen[k] = true
				fp[s] = out
				work = append(work, s)
				return
			}
			merged := fp[s]
			for r := range merged {
				merged[r] = merged[r].join(out[r])
			}
			if merged != fp[s] {
				fp[s] = merged
				work = append(work, s)
			}
		})
	}
	return escapes
}

func isFp(v fpVal) bool { return v.kind == fpConst || v.kind == fpAny }

// fpStep is the forward transfer of one instruction.
func (p *progInfo) fpStep(i int, in fpRegs) (fpRegs, bool) {
	ins := &p.insns[i]
	op := ins.OpCode
	out := in
	if ins.Dst > asm.R10 || ins.Src > asm.R10 {
		return out, false
	}
	not := fpVal{kind: fpNot}
	switch cls := op.Class(); {
	case op.IsDWordLoad():
		out[ins.Dst] = not
	case cls == asm.LdClass:
		for r := asm.R0; r <= asm.R5; r++ {
			out[r] = not
		}
	case cls == asm.LdXClass:
		out[ins.Dst] = not
	case cls == asm.StXClass:
		// A stack address stored anywhere (spilled, or into memory) escapes.
		if isFp(in[ins.Src]) {
			return out, true
		}
		if op.Mode() == asm.AtomicMode {
			a := op.AtomicOp()
			if a == asm.CmpXchg {
				out[asm.R0] = not
			} else if a&0x100 != 0 {
				out[ins.Src] = not
			}
		}
	case cls.IsALU():
		d := in[ins.Dst]
		var s fpVal
		if op.Source() == asm.RegSource {
			s = in[ins.Src]
		} else {
			s = fpVal{kind: fpNot}
		}
		switch aluOp := op.ALUOp(); {
		case aluOp == asm.Mov && ins.Offset == 0 && cls == asm.ALU64Class:
			if op.Source() == asm.RegSource {
				out[ins.Dst] = s
			} else {
				out[ins.Dst] = not
			}
		case (aluOp == asm.Add || aluOp == asm.Sub) && cls == asm.ALU64Class:
			switch {
			case d.kind == fpConst && op.Source() == asm.ImmSource:
				if aluOp == asm.Add {
					out[ins.Dst] = fpVal{kind: fpConst, off: d.off + ins.Constant}
				} else {
					out[ins.Dst] = fpVal{kind: fpConst, off: d.off - ins.Constant}
				}
			case isFp(d) || isFp(s):
				out[ins.Dst] = fpVal{kind: fpAny}
			default:
				out[ins.Dst] = not
			}
		default:
			if isFp(d) || isFp(s) {
				out[ins.Dst] = fpVal{kind: fpAny}
			} else {
				out[ins.Dst] = not
			}
		}
	case cls.IsJump() && op.JumpOp() == asm.Call:
		for r := asm.R0; r <= asm.R5; r++ {
			out[r] = not
		}
	}
	out[asm.R10] = fpVal{kind: fpConst}
	return out, false
}

// slotsFrom is every slot at or above stack offset off (what a pointer to off may reach).
func slotsFrom(off int64) slotSet {
	if off >= 0 {
		return 0
	}
	s := int((-off - 1) / 8) // slot holding byte off
	if s >= stackSlots {
		return allSlots
	}
	return slotSet(uint64(1)<<(s+1) - 1)
}

// slotOf is the slot an 8-byte aligned access at off uses.
func slotOf(off int64) (slotSet, bool) {
	s, ok := stackSlot(off)
	if !ok {
		return 0, false
	}
	return slotSet(1) << s, true
}

func regBit(r asm.Register) regSet { return regSet(1) << r }

const argRegs = regSet(1<<asm.R1 | 1<<asm.R2 | 1<<asm.R3 | 1<<asm.R4 | 1<<asm.R5)
const callClobbered = argRegs | regSet(1<<asm.R0)

// backward runs the backward pass over one function; it reports whether anything changed.
func (p *progInfo) backward(fr funcRange, fp []fpRegs, escapes bool, lv *progLiveness, entry, entryRel []liveSet, fnOf []int) bool {
	changed := false
	for iter := 0; iter < 64; iter++ {
		any := false
		for i := fr.end - 1; i >= fr.start; i-- {
			var out, outRel liveSet
			p.succs(i, fr, func(s int) {
				out = out.union(lv.live[s])
				outRel = outRel.union(lv.rel[s])
			})
			in, inRel := p.liveStep(i, out, outRel, fp[i], escapes, entry, entryRel, fnOf)
			if escapes {
				in.slots, inRel.slots = allSlots, allSlots
			}
			if in != lv.live[i] || inRel != lv.rel[i] {
				lv.live[i], lv.rel[i] = in, inRel
				any = true
			}
		}
		if !any {
			break
		}
		changed = true
	}
	return changed
}

// liveStep is the backward transfer of instruction i: what matters before it, given
// what matters after it.
func (p *progInfo) liveStep(i int, out, outRel liveSet, fp fpRegs, escapes bool, entry, entryRel []liveSet, fnOf []int) (liveSet, liveSet) {
	ins := &p.insns[i]
	op := ins.OpCode
	in, inRel := out, outRel
	if ins.Dst > asm.R10 || ins.Src > asm.R10 {
		return in, inRel
	}
	dst, src := regBit(ins.Dst), regBit(ins.Src)
	kill := func(r regSet) { in.regs &^= r; inRel.regs &^= r }
	use := func(r regSet) { in.regs |= r }
	useRel := func(r regSet) { in.regs |= r; inRel.regs |= r }
	// fpSlots is what a pointer register may reach on the stack.
	fpSlots := func(r asm.Register) slotSet {
		switch v := fp[r]; v.kind {
		case fpConst:
			return slotsFrom(v.off)
		case fpAny:
			return allSlots
		}
		return 0
	}

	switch cls := op.Class(); {
	case op.IsDWordLoad():
		kill(dst)
	case cls == asm.LdClass: // LD_ABS / LD_IND read R6 (and src)
		relDst := outRel.regs&regBit(asm.R0) != 0
		kill(callClobbered)
		use(regBit(asm.R6))
		if op.Mode() == asm.IndMode {
			if relDst {
				useRel(src)
			} else {
				use(src)
			}
		}
	case cls == asm.LdXClass:
		relDst := outRel.regs&dst != 0
		liveDst := out.regs&dst != 0
		kill(dst)
		use(src)
		if !liveDst {
			break
		}
		// Only an 8-byte load from a slot reads what the slot holds.
		if op.Size() == asm.DWord && op.Mode() == asm.MemMode {
			switch v := fp[ins.Src]; v.kind {
			case fpConst:
				if s, ok := slotOf(v.off + int64(ins.Offset)); ok {
					in.slots |= s
					if relDst {
						inRel.slots |= s
					}
				}
			case fpAny:
				in.slots = allSlots
				if relDst {
					inRel.slots = allSlots
				}
			}
		}
	case cls == asm.StClass || cls == asm.StXClass:
		use(dst)
		var slot slotSet
		full := false
		if v := fp[ins.Dst]; v.kind == fpConst {
			off := v.off + int64(ins.Offset)
			if s, ok := slotOf(off &^ 7); ok && off >= -stackSlots*8 {
				slot = s
				full = true
			}
		}
		if op.Mode() == asm.AtomicMode {
			// Read, modify, write: the old value is read, the register too.
			use(src)
			if slot != 0 {
				in.slots |= slot
			} else if fp[ins.Dst].kind == fpAny {
				in.slots = allSlots
			}
			a := op.AtomicOp()
			if a == asm.CmpXchg {
				kill(regBit(asm.R0))
				use(regBit(asm.R0) | src)
			} else if a&0x100 != 0 {
				kill(src)
				use(src)
			}
			break
		}
		if full {
			slotRel := outRel.slots&slot != 0
			slotLive := out.slots&slot != 0
			in.slots &^= slot
			inRel.slots &^= slot
			if cls == asm.StXClass {
				if slotRel {
					useRel(src)
				} else if slotLive {
					use(src)
				}
			}
		} else if cls == asm.StXClass {
			// Stored to memory: the interpreter reads it only to check the store.
			use(src)
		}
	case cls.IsALU():
		relDst := outRel.regs&dst != 0
		liveDst := out.regs&dst != 0
		aluOp := op.ALUOp()
		reg := op.Source() == asm.RegSource
		if aluOp == asm.Mov {
			kill(dst)
			if reg {
				if relDst {
					useRel(src)
				} else if liveDst {
					use(src)
				}
			}
			break
		}
		if !liveDst {
			kill(dst)
			break
		}
		// The operation reads dst; a register operand decides the result (a pointer's
		// offset for add/sub, so it is relevant whenever the result is live).
		if relDst {
			useRel(dst)
		} else {
			use(dst)
		}
		if reg {
			if relDst || aluOp == asm.Add || aluOp == asm.Sub {
				useRel(src)
			} else {
				use(src)
			}
		}
	case cls.IsJump():
		switch op.JumpOp() {
		case asm.Exit:
			// R0: the return value, which decides the caller's branches.
			if fnOf[i] != 0 {
				useRel(regBit(asm.R0))
			} else {
				use(regBit(asm.R0))
			}
		case asm.Call:
			kill(callClobbered)
			switch {
			case ins.IsFunctionCall():
				t, ok := p.funcStart[ins.Reference()]
				if !ok {
					use(argRegs)
					break
				}
				fi := fnOf[t]
				use(entry[fi].regs & argRegs)
				inRel.regs |= entryRel[fi].regs & argRegs
				for r := asm.R1; r <= asm.R5; r++ {
					if entry[fi].regs&regBit(r) != 0 {
						s := fpSlots(r)
						in.slots |= s
						inRel.slots |= s
					}
				}
			case ins.IsKfuncCall():
				// kfunc arguments decide what the call does (an object's type, a lock).
				useRel(argRegs)
				for r := asm.R1; r <= asm.R5; r++ {
					s := fpSlots(r)
					in.slots |= s
					inRel.slots |= s
				}
			default:
				use(argRegs)
			}
		case asm.Ja, asm.JCOND:
		default:
			useRel(dst)
			if op.Source() == asm.RegSource {
				useRel(src)
			}
		}
	}
	in.regs &^= regBit(asm.R10)
	inRel.regs &^= regBit(asm.R10)
	inRel.regs &= in.regs
	inRel.slots &= in.slots
	return in, inRel
}
