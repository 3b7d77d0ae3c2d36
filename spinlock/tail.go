// SPDX-License-Identifier: Apache-2.0

package spinlock

import (
	"math/bits"
	"strings"

	"github.com/cilium/ebpf/asm"
)

// Where a walk has nothing left to find. Every finding of the walk needs a lock held, a
// call that takes, releases or works under one (spin and res locks, graph, object,
// kptr-exchange, timer and work-queue functions), or a value that holds one (a map value,
// an inner map, an allocated object). A path that holds no lock, reaches no such call or
// map from where it is, and keeps no pointer to such a value ends there (lockFreeTail):
// the rest of it is the verifier's alone to judge. A root (a global function, a callback)
// that reaches none of these ends at its first instruction: it starts with no lock held,
// since the kernel refuses a global function call, or a helper that takes a callback,
// under a lock (an rbtree less() callback runs under its tree's lock, and is walked).
// sched_ext's libraries are full of both: global functions that compute over arena memory
// in nested may_goto loops, whose counters the verifier widens by a precision it keeps
// per path and this check per instruction, and which the walk would otherwise unroll
// until its limits; and the same loops after an unlock.

// lockWorkAt reports whether instruction i is lock work: a call the walk interprets as
// such (or one it cannot name), a call of a static function that reaches one, a jump the
// function cannot follow, or the load of a map whose value holds what the walk follows
// (mapHoldsLockWork). A map the check cannot name (a typed ksym, a kconfig value) is a
// pointer it knows nothing of, in the walk as here.
func (w *walker) lockWorkAt(i int, fr funcRange) bool {
	p := w.p
	ins := &p.insns[i]
	op := ins.OpCode
	switch {
	case ins.IsFunctionCall():
		t, ok := p.funcStart[ins.Reference()]
		return !ok || !p.global[t] && w.lockWork(t)
	case ins.IsKfuncCall():
		return lockKfunc(strings.TrimSuffix(ins.Reference(), "_impl"))
	case ins.IsBuiltinCall():
		fn := ins.Constant
		return fn == fnSpinLock || fn == fnSpinUnlock || fn == fnKptrXchg || fn >= fnTimerInit && fn <= fnTimerCancel
	case op.Class().IsJump() && op.JumpOp() == asm.Call:
		return true // a call of a kind the check does not know
	case op.Class().IsJump() && op.JumpOp() != asm.Exit:
		off := int64(ins.Offset)
		if op.JumpOp() == asm.Ja && op.Class() == asm.Jump32Class {
			off = ins.Constant
		}
		t, ok := p.target(i, off)
		return !ok || t < fr.start || t >= fr.end
	case ins.IsLoadFromMap():
		mi, ok := w.c.mapIndex[ins.Reference()]
		return ok && w.c.mapHoldsLockWork(mi)
	}
	return false
}

// workAhead returns, per instruction, whether lock work (lockWorkAt) is reachable from
// it inside its function, through the static functions it calls. Computed once per
// program.
func (w *walker) workAhead() []bool {
	if w.ahead != nil {
		return w.ahead
	}
	p := w.p
	w.ahead = make([]bool, len(p.insns))
	for _, fr := range p.functions() {
		own := make([]bool, fr.end-fr.start)
		for i := fr.start; i < fr.end; i++ {
			own[i-fr.start] = w.lockWorkAt(i, fr)
		}
		// Backward to a fixpoint: loops feed their headers.
		for changed := true; changed; {
			changed = false
			for i := fr.end - 1; i >= fr.start; i-- {
				if w.ahead[i] {
					continue
				}
				v := own[i-fr.start]
				p.succs(i, fr, func(s int) { v = v || w.ahead[s] })
				if v {
					w.ahead[i], changed = true, true
				}
			}
		}
	}
	return w.ahead
}

// lockWork reports whether lock work is reachable from the first instruction of the
// function at start: what a call of that static function counts as (lockWorkAt).
func (w *walker) lockWork(start int) bool {
	p := w.p
	if v, ok := p.lockWorkMemo[start]; ok {
		return v
	}
	if p.lockWorkMemo == nil {
		p.lockWorkMemo = make(map[int]bool)
	}
	// A static function that calls itself (which the kernel refuses) reaches no work
	// through that call: the other instructions decide.
	p.lockWorkMemo[start] = false
	var v bool
	for _, fr := range p.functions() {
		if fr.start == start {
			v = w.functionWork(fr)
		}
	}
	p.lockWorkMemo[start] = v
	return v
}

// functionWork is lockWork for one function, from its own instructions (workAhead of a
// whole program needs lockWork of the static functions it calls, so it cannot serve here).
func (w *walker) functionWork(fr funcRange) bool {
	reach := make([]bool, fr.end-fr.start)
	todo := []int{fr.start}
	reach[0] = true
	for len(todo) > 0 {
		i := todo[len(todo)-1]
		todo = todo[:len(todo)-1]
		if w.lockWorkAt(i, fr) {
			return true
		}
		w.p.succs(i, fr, func(s int) {
			if !reach[s-fr.start] {
				reach[s-fr.start] = true
				todo = append(todo, s)
			}
		})
	}
	return false
}

// lockFreeTail reports whether the path of st at idx has nothing left for the check to
// find: it holds no lock, no lock work is reachable from idx nor from where each caller
// resumes, and no live register or stack slot (of any frame) points to a value that may
// hold a lock.
func (w *walker) lockFreeTail(idx int, st *state) bool {
	if w.c.noCuts || len(st.locks) > 0 || st.uncertain != 0 {
		return false
	}
	ahead := w.workAhead()
	top := len(st.frames) - 1
	for f := top; f >= 0; f-- {
		fr := &st.frames[f]
		var live liveSet
		if f == top {
			if ahead[idx] {
				return false
			}
			live = w.lv.live[idx]
		} else {
			// A caller resumes after its call: what is live there, minus what the call sets.
			ret := st.frames[f+1].ret
			cs := ret - 1
			if cs < 0 || ret >= len(ahead) || ahead[ret] {
				return false
			}
			live = w.lv.live[cs]
			live.regs &= calleeSaved
		}
		for r := asm.R0; r < asm.R10; r++ {
			if live.regs&regBit(r) != 0 && w.mayReachLock(st, fr.regs[r]) {
				return false
			}
		}
		for s := uint64(live.slots) & fr.used; s != 0; s &= s - 1 {
			k := bits.TrailingZeros64(s)
			if w.mayReachLock(st, fr.slot(k)) {
				return false
			}
		}
	}
	w.c.cuts++
	return true
}

// mayReachLock reports whether v is, or leads to, a value that may hold what the walk
// follows: a map or map value of a map that holds one (mapHoldsLockWork), an inner map,
// an allocated object, a failed res lock's result; or a pointer into a stack that keeps
// such a value in any slot.
func (w *walker) mayReachLock(st *state, v value) bool {
	switch v.kind {
	case vMapPtr, vMapPtrNull, vMapVal, vMapValNull:
		h := w.c.homes[v.home]
		return h.kind != homeMap || w.c.mapHoldsLockWork(h.m)
	case vObj, vObjNull, vErrno:
		return true
	case vStack:
		if int(v.frame) >= len(st.frames) {
			return true
		}
		fr := &st.frames[v.frame]
		for s := fr.used; s != 0; s &= s - 1 {
			sv := fr.slot(bits.TrailingZeros64(s))
			if sv.kind == vStack || w.mayReachLock(st, sv) {
				return true
			}
		}
	}
	return false
}
