// SPDX-License-Identifier: Apache-2.0

package spinlock

import (
	"github.com/cilium/ebpf/asm"
)

// Conditional jumps: the outcomes the verifier can decide (constants, NULL checks,
// bounds, a failed res lock's result) follow one side only; the others follow both,
// remembering what each side learnt so that a later branch on the same value can be
// recognised as correlated.

type outcome int

const (
	unknownOutcome outcome = iota
	alwaysTaken
	neverTaken
)

func (w *walker) cond(idx int, st *state, ins *asm.Instruction) (int, bool) {
	fr := st.cur()
	op := ins.OpCode.JumpOp()
	w32 := ins.OpCode.Class() == asm.Jump32Class
	target, ok := w.p.target(idx, int64(ins.Offset))
	if !ok {
		return 0, false
	}
	a := fr.regs[ins.Dst]
	var b value
	if ins.OpCode.Source() == asm.RegSource {
		b = fr.regs[ins.Src]
	} else {
		b = constant(ins.Constant)
		if !w32 {
			b.n = int64(int32(ins.Constant))
		}
	}
	zero := b.kind == vScalar && b.known() && b.n == 0

	// Exact outcomes, as the kernel computes them.
	switch {
	case a.kind == vScalar && a.known() && b.kind == vScalar && b.known():
		w.markPrecise(a, b)
		if compare(op, a.n, b.n, w32) {
			return target, true
		}
		return idx + 1, true
	case a.kind == vErrno && b.kind == vScalar && b.known():
		switch errnoOutcome(op, a.n, b.n, w32) {
		case alwaysTaken:
			w.markPrecise(b)
			return target, true
		case neverTaken:
			w.markPrecise(b)
			return idx + 1, true
		}
	case a.nonNullPtr() && zero && (op == asm.JEq || op == asm.JNE):
		if op == asm.JNE {
			return target, true
		}
		return idx + 1, true
	case a.maybeNull() && zero && (op == asm.JEq || op == asm.JNE) && !w32:
		null, notNullSt := st.clone(), st.clone()
		markNull(null, a, true)
		markNull(notNullSt, a, false)
		if op == asm.JEq {
			w.push(target, null)
			*st = *notNullSt
		} else {
			w.push(target, notNullSt)
			*st = *null
		}
		return idx + 1, true
	}

	if a.kind == vScalar && !a.known() && a.bnd() && b.kind == vScalar && b.known() && (a.max() <= 0xffffffff || !w32) {
		c := uint64(b.n)
		if w32 {
			c = uint64(uint32(b.n))
		}
		if c > a.max() {
			switch op {
			case asm.JEq, asm.JGT, asm.JGE:
				w.markPrecise(a, b)
				return idx + 1, true
			case asm.JNE, asm.JLT, asm.JLE:
				w.markPrecise(a, b)
				return target, true
			}
		}
	}

	taken, fall := st.clone(), st
	if a.kind == vScalar && !a.known() && a.bnd() && a.max() == 1 && zero && w.neNarrows() {
		// A value in [0, 1] that is not 0 is 1 (6.8+, as neNarrows).
		switch op {
		case asm.JEq:
			setConst(fall, a.id, 1, false)
		case asm.JNE:
			setConst(taken, a.id, 1, false)
		}
	}
	if a.kind == vScalar && !a.known() && a.id != 0 && b.kind == vScalar && b.known() {
		switch decided(st.facts, a.id, op, w32, w.neNarrows(), b.n) {
		case alwaysTaken:
			w.markPrecise(a, b)
			fall.setUncertain(uncertainCorrelated)
		case neverTaken:
			w.markPrecise(a, b)
			taken.setUncertain(uncertainCorrelated)
		default:
			// Tested before, but the check cannot tell how (signed ranges, bit tests):
			// the kernel may know more, so neither side is certain.
			if !intervalComplete(st.facts, a.id, op, w32) {
				taken.setUncertain(uncertainCorrelated)
				fall.setUncertain(uncertainCorrelated)
			}
			addFact(taken, fact{id: a.id, op: op, w32: w32, c: b.n, taken: true})
			addFact(fall, fact{id: a.id, op: op, w32: w32, c: b.n, taken: false})
		}
		// An equality learnt on one side makes the value a constant there (the kernel
		// does the same).
		if op == asm.JEq {
			setConst(taken, a.id, b.n, w32)
		} else if op == asm.JNE {
			setConst(fall, a.id, b.n, w32)
		}
	}
	w.push(target, taken)
	return idx + 1, true
}

// neNarrows reports whether the kernel learns from a "!=" outcome (cutting a bound off
// a range): 6.12 does, 6.1 does not (seen in Debian's kernels under make test-kernels);
// the verifier's branch-range rework of 6.8 is where it came.
func (w *walker) neNarrows() bool { return w.c.kernel.AtLeast(6, 8) }

// errnoOutcome decides a comparison of a failed bpf_res_spin_lock's result (a number in
// [-4095, -1]) with c: the kernel knows that range exactly.
func errnoOutcome(op asm.JumpOp, variant, c int64, w32 bool) outcome {
	taken, not := false, false
	for e := int64(-4095); e <= -1; e++ {
		if compare(op, errnoAt(variant, e), c, w32) {
			taken = true
		} else {
			not = true
		}
		if taken && not {
			return unknownOutcome
		}
	}
	if taken {
		return alwaysTaken
	}
	return neverTaken
}

// intervalComplete reports whether decided's interval reasoning knew all there is to
// know about id for this branch: earlier branches on it and this one are comparisons
// (signed or unsigned) of the same width. Bit tests, or a value tested at both widths,
// the kernel follows with more than intervals: it may settle a branch the check cannot.
func intervalComplete(facts []fact, id int32, op asm.JumpOp, w32 bool) bool {
	for _, f := range facts {
		if f.id == id && f.w32 != w32 {
			return false
		}
	}
	return true
}

// markNull settles a NULL check on ptr in st: every copy of the pointer (same identity)
// becomes NULL, or non-NULL.
func markNull(st *state, ptr value, null bool) {
	st.forEachValue(func(v *value) {
		if v.maybeNull() && v.kind == ptr.kind && v.id == ptr.id && v.home == ptr.home {
			if null {
				*v = constant(0)
			} else {
				v.kind = notNull(v.kind)
			}
		}
	})
}

func setConst(st *state, id int32, c int64, w32 bool) {
	if w32 {
		return // only the low 32 bits are known
	}
	st.forEachValue(func(v *value) {
		if v.kind == vScalar && v.id == id && !v.known() {
			*v = value{kind: vScalar, flags: fKnown, n: c, id: id, at: v.at}
		}
	})
}

func addFact(st *state, f fact) {
	if len(st.facts) >= maxFacts {
		st.facts = append(st.facts[:0], st.facts[1:]...)
	}
	st.facts = append(st.facts, f)
}

// srange is what the walk knows of a scalar in one width (64 or 32 bits): an unsigned
// and a signed interval, as the verifier's ranges, from its value and the branches
// taken on it.
type srange struct {
	w32      bool
	ne       bool // a "!=" outcome cuts a bound off the intervals (6.8+)
	ulo, uhi uint64
	slo, shi int64
	// Bits known 0 and known 1, from bit tests (the verifier's tnum learns the same).
	zeros, ones uint64
}

func widthBounds(w32 bool) (umax uint64, smin, smax int64) {
	if w32 {
		return 0xffffffff, -1 << 31, 1<<31 - 1
	}
	return ^uint64(0), -1 << 63, 1<<63 - 1
}

func (r srange) u(c int64) uint64 {
	if r.w32 {
		return uint64(uint32(c))
	}
	return uint64(c)
}

func (r srange) s(c int64) int64 {
	if r.w32 {
		return int64(int32(c))
	}
	return c
}

// rangeOf is what the walk knows of scalar v in the given width, from its value and the
// facts of its state.
func rangeOf(v value, facts []fact, w32, ne bool) (r srange) {
	umax, smin, smax := widthBounds(w32)
	r = srange{w32: w32, ne: ne, ulo: 0, uhi: umax, slo: smin, shi: smax}
	switch {
	case v.kind == vScalar && v.known():
		r.ulo, r.uhi = r.u(v.n), r.u(v.n)
		r.slo, r.shi = r.s(v.n), r.s(v.n)
		return r
	case v.kind == vScalar && v.bnd():
		r.uhi = min(umax, v.max())
	}
	if v.id == 0 {
		return r.normal()
	}
	for _, f := range facts {
		if f.id != v.id || f.w32 != w32 {
			continue
		}
		r = r.apply(f.op, f.c, f.taken)
	}
	return r.normal()
}

// negated is the comparison that holds when a branch on op is not taken.
var negated = map[asm.JumpOp]asm.JumpOp{
	asm.JGT: asm.JLE, asm.JGE: asm.JLT, asm.JLT: asm.JGE, asm.JLE: asm.JGT,
	asm.JSGT: asm.JSLE, asm.JSGE: asm.JSLT, asm.JSLT: asm.JSGE, asm.JSLE: asm.JSGT,
	asm.JNE: asm.JEq, asm.JEq: asm.JNE,
}

// apply narrows r by the outcome of `value op c`.
func (r srange) apply(op asm.JumpOp, c int64, taken bool) srange {
	umax, smin, smax := widthBounds(r.w32)
	if !taken {
		neg, ok := negated[op]
		if !ok {
			return r
		}
		op = neg
	}
	uc, sc := r.u(c), r.s(c)
	empty := func() srange { r.ulo, r.uhi = 1, 0; return r }
	if op == asm.JSet {
		if !taken {
			r.zeros |= uc // no bit of c is set
			r.uhi = min(r.uhi, ^r.zeros&umax)
		} else if uc != 0 {
			r.ulo = max(r.ulo, uc&-uc) // some bit of c is set: at least its lowest
			if uc&(uc-1) == 0 {
				r.ones |= uc // a single bit: that one
			}
		}
		if r.zeros&r.ones != 0 || uc == 0 && taken {
			return empty()
		}
		return r
	}
	switch op {
	case asm.JEq:
		r.ulo, r.uhi = max(r.ulo, uc), min(r.uhi, uc)
		r.slo, r.shi = max(r.slo, sc), min(r.shi, sc)
	case asm.JNE:
		// Only an end of an interval can be cut off, and only kernels since 6.8 do
		// (6.1 learns nothing from "!=", 6.12 does; the rework of the verifier's
		// branch ranges in 6.8 is what changed it).
		if !r.ne {
			break
		}
		if r.ulo == uc && r.ulo < umax {
			r.ulo++
		}
		if r.uhi == uc && r.uhi > 0 {
			r.uhi--
		}
		if r.slo == sc && r.slo < smax {
			r.slo++
		}
		if r.shi == sc && r.shi > smin {
			r.shi--
		}
	case asm.JGT:
		if uc == umax {
			return empty()
		}
		r.ulo = max(r.ulo, uc+1)
	case asm.JGE:
		r.ulo = max(r.ulo, uc)
	case asm.JLT:
		if uc == 0 {
			return empty()
		}
		r.uhi = min(r.uhi, uc-1)
	case asm.JLE:
		r.uhi = min(r.uhi, uc)
	case asm.JSGT:
		if sc == smax {
			return empty()
		}
		r.slo = max(r.slo, sc+1)
	case asm.JSGE:
		r.slo = max(r.slo, sc)
	case asm.JSLT:
		if sc == smin {
			return empty()
		}
		r.shi = min(r.shi, sc-1)
	case asm.JSLE:
		r.shi = min(r.shi, sc)
	}
	return r
}

// normal lets each interval bound the other where it does not cross the sign boundary.
func (r srange) normal() srange {
	_, _, smax := widthBounds(r.w32)
	if r.slo >= 0 && r.slo <= r.shi {
		r.ulo, r.uhi = max(r.ulo, uint64(r.slo)), min(r.uhi, uint64(r.shi))
	}
	if r.uhi <= uint64(smax) && r.ulo <= r.uhi {
		r.slo, r.shi = max(r.slo, int64(r.ulo)), min(r.shi, int64(r.uhi))
	}
	return r
}

func (r srange) empty() bool { return r.ulo > r.uhi || r.slo > r.shi }

// contains reports whether every value r2 allows, r allows.
func (r srange) contains(r2 srange) bool {
	if r2.empty() {
		return true
	}
	return r.ulo <= r2.ulo && r2.uhi <= r.uhi && r.slo <= r2.slo && r2.shi <= r.shi &&
		r.zeros&^r2.zeros == 0 && r.ones&^r2.ones == 0
}

// decide settles `value op c` over r, if every value in r agrees.
func (r srange) decide(op asm.JumpOp, c int64) outcome {
	if r.empty() {
		return unknownOutcome // contradictory facts: a path no kernel walks to anyway
	}
	uc, sc := r.u(c), r.s(c)
	var all, none bool // every possible value takes the branch / none does
	switch op {
	case asm.JEq:
		all = (r.ulo == r.uhi && r.ulo == uc) || (r.slo == r.shi && r.slo == sc)
		none = uc < r.ulo || uc > r.uhi || sc < r.slo || sc > r.shi
	case asm.JNE:
		all = uc < r.ulo || uc > r.uhi || sc < r.slo || sc > r.shi
		none = (r.ulo == r.uhi && r.ulo == uc) || (r.slo == r.shi && r.slo == sc)
	case asm.JGT:
		all, none = r.ulo > uc, r.uhi <= uc
	case asm.JGE:
		all, none = r.ulo >= uc, r.uhi < uc
	case asm.JLT:
		all, none = r.uhi < uc, r.ulo >= uc
	case asm.JLE:
		all, none = r.uhi <= uc, r.ulo > uc
	case asm.JSGT:
		all, none = r.slo > sc, r.shi <= sc
	case asm.JSGE:
		all, none = r.slo >= sc, r.shi < sc
	case asm.JSLT:
		all, none = r.shi < sc, r.slo >= sc
	case asm.JSLE:
		all, none = r.shi <= sc, r.slo > sc
	case asm.JSet:
		all, none = uc&r.ones != 0, uc&^r.zeros == 0
	}
	switch {
	case all:
		return alwaysTaken
	case none:
		return neverTaken
	}
	return unknownOutcome
}

// decided looks for earlier branches on the same value that settle this one: the
// unsigned and signed intervals they leave the value in, as the verifier's ranges do.
func decided(facts []fact, id int32, op asm.JumpOp, w32, ne bool, c int64) outcome {
	seen := false
	for _, f := range facts {
		if f.id == id && f.w32 == w32 {
			seen = true
		}
	}
	if !seen {
		return unknownOutcome
	}
	r := rangeOf(value{kind: vScalar, id: id}, facts, w32, ne)
	return r.decide(op, c)
}

func compare(op asm.JumpOp, a, b int64, w32 bool) bool {
	ua, ub := uint64(a), uint64(b)
	sa, sb := a, b
	if w32 {
		ua, ub = uint64(uint32(a)), uint64(uint32(b))
		sa, sb = int64(int32(uint32(a))), int64(int32(uint32(b)))
	}
	switch op {
	case asm.JEq:
		return ua == ub
	case asm.JNE:
		return ua != ub
	case asm.JGT:
		return ua > ub
	case asm.JGE:
		return ua >= ub
	case asm.JLT:
		return ua < ub
	case asm.JLE:
		return ua <= ub
	case asm.JSGT:
		return sa > sb
	case asm.JSGE:
		return sa >= sb
	case asm.JSLT:
		return sa < sb
	case asm.JSLE:
		return sa <= sb
	case asm.JSet:
		return ua&ub != 0
	}
	return false
}
