// SPDX-License-Identifier: Apache-2.0

package spinlock

import (
	"fmt"

	"github.com/cilium/ebpf/asm"
)

// Instruction semantics: loads, stores, constants and arithmetic. Calls, exits and
// branches have files of their own.

// define returns a scalar computed at instruction idx, with an identity of its own.
func define(st *state, idx int) value {
	return value{kind: vScalar, id: st.newID(), at: int32(idx + 1)}
}

// made is a value (a constant) made at instruction idx.
func made(v value, idx int) value {
	v.at = int32(idx + 1)
	return v
}

// step interprets the instruction at idx; it returns the next index, or false when the
// path ends (exit of the root, an error the kernel would stop at, a malformed program).
func (w *walker) step(idx int, st *state) (int, bool) {
	ins := &w.p.insns[idx]
	fr := st.cur()
	op := ins.OpCode
	if ins.Dst > asm.R10 || ins.Src > asm.R10 {
		return 0, false
	}
	switch cls := op.Class(); {
	case op.IsDWordLoad():
		fr.regs[ins.Dst] = w.loadImm64(idx, ins, st)
		return idx + 1, true

	case cls == asm.LdClass: // LD_ABS / LD_IND
		if st.locked() {
			w.report(st, idx, RuleI7, -1, fmt.Sprintf("%s uses a legacy packet load (BPF_LD_ABS/BPF_LD_IND) while holding %s; the %s kernel says %q",
				w.p.label(), w.lockName(st, st.locks[len(st.locks)-1]), w.c.kernel, wordsI7),
				"Read the packet with bpf_skb_load_bytes or direct packet access before taking the lock.")
			return 0, false
		}
		for r := asm.R1; r <= asm.R5; r++ {
			fr.regs[r] = value{}
		}
		fr.regs[asm.R0] = define(st, idx)
		return idx + 1, true

	case cls == asm.LdXClass:
		src := fr.regs[ins.Src]
		size := op.Size().Sizeof()
		if !w.access(st, idx, src, int64(ins.Offset), size, "reads") {
			return 0, false
		}
		v := define(st, idx)
		if op.Mode() == asm.MemMode || op.Mode() == asm.MemSXMode {
			switch size {
			case 1:
				v.flags, v.n = fBnd, 0xff
			case 2:
				v.flags, v.n = fBnd, 0xffff
			case 4:
				v.flags, v.n = fBnd, 0xffffffff
			}
			if op.Mode() == asm.MemSXMode {
				v = define(st, idx)
			}
		}
		if (src.kind == vMapVal || src.kind == vObj) && src.known() && size == 8 && op.Mode() == asm.MemMode {
			// A kptr read in place: an RCU pointer to the object, which may be NULL.
			// Before 6.2 the kernel knows no kptr to a program's own type: the field
			// reads as a number.
			if f := w.c.localKptr(src.home, src.n+int64(ins.Offset)); f != nil {
				if w.c.kernel.AtLeast(6, 2) {
					v = value{kind: vPtrNull, flags: fRCU, id: st.newID()}
				} else {
					v = value{kind: vScalar, flags: fSure, id: st.newID(), at: int32(idx + 1)}
				}
			}
		}
		if src.kind == vStack && src.known() && int(src.frame) < len(st.frames) && size == 8 && op.Mode() == asm.MemMode {
			if s, ok := stackSlot(src.n + int64(ins.Offset)); ok {
				if sv := st.frames[src.frame].slot(s); sv.kind != vNone {
					v = sv
				}
			}
		}
		fr.regs[ins.Dst] = v
		return idx + 1, true

	case cls == asm.StClass || cls == asm.StXClass:
		dst := fr.regs[ins.Dst]
		size := op.Size().Sizeof()
		if !w.access(st, idx, dst, int64(ins.Offset), size, "writes") {
			return 0, false
		}
		if dst.kind == vStack && dst.known() && int(dst.frame) < len(st.frames) {
			off := dst.n + int64(ins.Offset)
			f := &st.frames[dst.frame]
			stored := made(scalar(), idx)
			if cls == asm.StXClass && op.Mode() == asm.MemMode {
				stored = fr.regs[ins.Src]
			} else if cls == asm.StClass {
				stored = made(constant(ins.Constant), idx)
			}
			if s, ok := stackSlot(off); ok && size == 8 && op.Mode() == asm.MemMode {
				f.setSlot(s, stored)
			} else {
				for o := off; o < off+int64(size); o++ {
					if s, ok := stackSlot(o &^ 7); ok {
						f.setSlot(s, made(scalar(), idx))
					}
				}
			}
		}
		if op.Mode() == asm.AtomicMode {
			a := op.AtomicOp()
			if a == asm.CmpXchg {
				fr.regs[asm.R0] = define(st, idx)
			} else if a&0x100 != 0 { // BPF_FETCH
				fr.regs[ins.Src] = define(st, idx)
			}
		}
		return idx + 1, true

	case cls.IsALU():
		w.alu(st, idx, ins)
		return idx + 1, true

	case cls.IsJump():
		switch op.JumpOp() {
		case asm.Call:
			return w.call(idx, st)
		case asm.Exit:
			return w.exit(idx, st)
		case asm.Ja:
			return w.p.jumpTarget(idx)
		case asm.JCOND:
			return w.mayGoto(idx, st, ins)
		default:
			return w.cond(idx, st, ins)
		}
	}
	return 0, false
}

// loadImm64 is the value of an ld_imm64.
func (w *walker) loadImm64(idx int, ins *asm.Instruction, st *state) value {
	switch ins.Src {
	case asm.PseudoMapFD:
		if m, ok := w.c.mapIndex[ins.Reference()]; ok {
			return value{kind: vMapPtr, home: int32(m)}
		}
		return value{kind: vPtr}
	case asm.PseudoMapValue:
		m, ok := w.c.mapIndex[ins.Reference()]
		if !ok {
			return value{kind: vPtr}
		}
		v := value{kind: vMapVal, home: int32(m), flags: fKnown, n: int64(uint64(ins.Constant) >> 32), at: int32(idx)}
		// 6.1 gives each such load of a lock-holding map a fresh id (G1).
		if w.c.kernel.Before(6, 2) && w.c.view(m).lock != nil {
			v.id = st.newID()
		}
		return v
	case asm.PseudoFunc:
		if t, ok := w.p.funcStart[ins.Reference()]; ok {
			return value{kind: vFunc, flags: fKnown, n: int64(t)}
		}
		return value{kind: vPtr}
	case 0:
		if ins.IsLoadOfFunctionPointer() {
			if t, ok := w.p.funcStart[ins.Reference()]; ok {
				return value{kind: vFunc, flags: fKnown, n: int64(t)}
			}
		}
		if ins.Reference() != "" {
			return value{kind: vPtr} // a ksym or another symbol the loader resolves
		}
		return made(constant(ins.Constant), idx)
	}
	return value{kind: vPtr}
}

func (w *walker) alu(st *state, idx int, ins *asm.Instruction) {
	fr := st.cur()
	op := ins.OpCode
	is64 := op.Class() == asm.ALU64Class
	dst := &fr.regs[ins.Dst]
	var src value
	if op.Source() == asm.RegSource {
		src = fr.regs[ins.Src]
	} else {
		src = constant(ins.Constant)
	}
	aluOp := op.ALUOp()
	if v, ok := errnoALU(dst, src, aluOp, is64, op.Source() == asm.RegSource, ins); ok {
		*dst = v
		return
	}
	switch {
	case aluOp == asm.Mov && ins.Offset == 0:
		if is64 {
			if op.Source() == asm.ImmSource {
				src = made(src, idx)
			}
			*dst = src
			return
		}
		w.dep(idx, src)
		if src.kind == vScalar && src.known() {
			*dst = made(constant(int64(uint32(src.n))), idx)
			return
		}
		v := define(st, idx)
		v.flags, v.n = fBnd, 0xffffffff
		*dst = v
		return
	case (aluOp == asm.Add || aluOp == asm.Sub) && is64 && isPtr(dst.kind) && src.isScalar():
		// The scalar decides the pointer's offset: its value matters.
		w.markPrecise(src)
		if !dst.known() || !src.known() || src.kind != vScalar {
			dst.flags &^= fKnown
			dst.n = 0
			return
		}
		if aluOp == asm.Add {
			dst.n += src.n
		} else {
			dst.n -= src.n
		}
		return
	case dst.kind == vScalar && dst.known() && src.kind == vScalar && src.known():
		if r, ok := evalALU(aluOp, dst.n, src.n, is64); ok && ins.Offset == 0 {
			w.dep(idx, *dst, src)
			*dst = made(constant(r), idx)
			return
		}
	case aluOp == asm.Neg && dst.kind == vScalar && dst.known() && ins.Offset == 0:
		r := -dst.n
		if !is64 {
			r = int64(uint32(r))
		}
		w.dep(idx, *dst)
		*dst = made(constant(r), idx)
		return
	}
	old := *dst
	w.dep(idx, old, src)
	res := define(st, idx)
	// Upper bounds the kernel also knows, enough to turn "x & 1 != 0" into x == 1.
	if old.kind == vScalar && src.kind == vScalar && src.known() && ins.Offset == 0 {
		c := uint64(src.n)
		if !is64 {
			c = uint64(uint32(src.n))
		}
		oldMax, oldBnd := old.max(), old.bnd()
		if old.known() {
			oldMax, oldBnd = uint64(old.n), true
		}
		switch aluOp {
		case asm.And:
			if is64 && src.n < 0 {
				break
			}
			m := c
			if oldBnd && oldMax < c {
				m = oldMax
			}
			res.flags, res.n = fBnd, int64(m)
		case asm.RSh:
			k := c & 63
			if !is64 {
				k = c & 31
			}
			m := ^uint64(0) >> k
			if oldBnd {
				m = min(m, oldMax>>k)
			}
			res.flags, res.n = fBnd, int64(m)
		case asm.LSh:
			k := c & 63
			if is64 && oldBnd && k < 64 && oldMax <= ^uint64(0)>>k {
				res.flags, res.n = fBnd, int64(oldMax<<k)
			}
		case asm.Mod:
			if c > 0 {
				res.flags, res.n = fBnd, int64(c-1)
			}
		}
	}
	if !is64 && (!res.bnd() || res.max() > 0xffffffff) {
		res.flags, res.n = fBnd, 0xffffffff
	}
	*dst = res
}

// errnoALU follows a failed res lock's result through the extensions clang emits
// (shifts by 32, a 32-bit move), which keep it a known set of numbers.
func errnoALU(dst *value, src value, op asm.ALUOp, is64, reg bool, ins *asm.Instruction) (value, bool) {
	if op == asm.Mov && ins.Offset == 0 && reg && src.kind == vErrno {
		if is64 {
			return src, true
		}
		v := src
		if v.n != errnoShl32 {
			v.n = errnoZext
		} else {
			return constant(0), true
		}
		return v, true
	}
	if dst.kind != vErrno || reg || ins.Offset != 0 {
		return value{}, false
	}
	v := *dst
	switch {
	case is64 && op == asm.LSh && ins.Constant == 32 && v.n != errnoShl32:
		v.n = errnoShl32
	case is64 && op == asm.RSh && ins.Constant == 32 && v.n == errnoShl32:
		v.n = errnoZext
	case is64 && op == asm.ArSh && ins.Constant == 32 && v.n == errnoShl32:
		v.n = errnoS64
	default:
		return value{}, false
	}
	return v, true
}

func evalALU(op asm.ALUOp, a, b int64, is64 bool) (int64, bool) {
	if !is64 {
		a, b = int64(uint32(a)), int64(uint32(b))
	}
	var r int64
	switch op {
	case asm.Add:
		r = a + b
	case asm.Sub:
		r = a - b
	case asm.Mul:
		r = a * b
	case asm.Div:
		if b == 0 {
			r = 0
		} else if is64 {
			r = int64(uint64(a) / uint64(b))
		} else {
			r = int64(uint32(a) / uint32(b))
		}
	case asm.Mod:
		if b == 0 {
			r = a
		} else if is64 {
			r = int64(uint64(a) % uint64(b))
		} else {
			r = int64(uint32(a) % uint32(b))
		}
	case asm.Or:
		r = a | b
	case asm.And:
		r = a & b
	case asm.Xor:
		r = a ^ b
	case asm.LSh:
		if is64 {
			r = a << (uint64(b) & 63)
		} else {
			r = int64(uint32(a) << (uint64(b) & 31))
		}
	case asm.RSh:
		if is64 {
			r = int64(uint64(a) >> (uint64(b) & 63))
		} else {
			r = int64(uint32(a) >> (uint64(b) & 31))
		}
	case asm.ArSh:
		if is64 {
			r = a >> (uint64(b) & 63)
		} else {
			r = int64(uint32(int32(uint32(a)) >> (uint64(b) & 31)))
		}
	default:
		return 0, false
	}
	if !is64 {
		r = int64(uint32(r))
	}
	return r, true
}

// mayGoto is may_goto (can_loop): the jump (the loop's exit, once the kernel's count of
// iterations runs out) or the next instruction (the loop's body). As the verifier does
// (check_cond_jmp_op, BPF_JCOND), the body's state is widened against the state that
// entered the body last time on this path: a number that differs and on which no decision
// depended becomes unknown (widen_imprecise_scalars). A loop counter then stops telling
// the passes apart, the next pass is pruned, and the loop is walked a few times instead
// of until the budget runs out.
func (w *walker) mayGoto(idx int, st *state, ins *asm.Instruction) (int, bool) {
	if t, ok := w.p.target(idx, int64(ins.Offset)); ok {
		w.push(t, st.clone())
	}
	var prev *state
	for _, e := range st.loops {
		if e.idx == idx {
			prev = e.st
		}
	}
	if prev != nil {
		w.widen(idx, prev, st)
	}
	loops := make([]loopEntry, 0, len(st.loops)+1)
	for _, e := range st.loops {
		if e.idx != idx {
			loops = append(loops, e)
		}
	}
	snap := st.clone()
	snap.loops = nil // widening reads registers and stack only: no chain of old snapshots
	st.loops = append(loops, loopEntry{idx, snap})
	return idx + 1, true
}

// widen makes unknown each scalar of st (registers and stack, frame by frame) that
// differs from prev's and that no decision depended on.
func (w *walker) widen(idx int, prev, st *state) {
	if len(prev.frames) != len(st.frames) {
		return
	}
	imprecise := func(v value) bool { return v.at <= 0 || int(v.at-1) >= len(w.precise) || !w.precise[v.at-1] }
	differs := func(a, b value) bool {
		return a.kind == vScalar && b.kind == vScalar && (a.flags != b.flags || a.n != b.n) && imprecise(a) && imprecise(b)
	}
	for f := range st.frames {
		fp, fc := &prev.frames[f], &st.frames[f]
		if fp.fn != fc.fn {
			return
		}
		for r := asm.R0; r < asm.R10; r++ {
			if differs(fp.regs[r], fc.regs[r]) {
				fc.regs[r] = define(st, idx)
			}
		}
		for k := 0; k < 64; k++ {
			if fc.used&(1<<k) != 0 && fp.used&(1<<k) != 0 && differs(fp.slot(k), fc.slot(k)) {
				fc.setSlot(k, define(st, idx))
			}
		}
	}
}
