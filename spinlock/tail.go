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
		t, ok := p.jumpTarget(i)
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
	if !w.aheadAll {
		for _, fr := range w.p.functions() {
			w.functionAhead(fr)
		}
		w.aheadAll = true
	}
	return w.ahead
}

// functionAhead computes workAhead over function fr, once: backward to a fixpoint, as
// loops feed their headers. A static function that calls itself (which the kernel
// refuses) reaches no work through that call: its other instructions decide.
func (w *walker) functionAhead(fr funcRange) {
	if w.ahead == nil {
		w.ahead = make([]bool, len(w.p.insns))
		w.aheadDone = make(map[int]bool)
	}
	if w.aheadDone[fr.start] {
		return
	}
	w.aheadDone[fr.start] = true
	own := make([]bool, fr.end-fr.start)
	for i := fr.start; i < fr.end; i++ {
		own[i-fr.start] = w.lockWorkAt(i, fr)
	}
	for changed := true; changed; {
		changed = false
		for i := fr.end - 1; i >= fr.start; i-- {
			if w.ahead[i] {
				continue
			}
			v := own[i-fr.start]
			w.p.succs(i, fr, func(s int) { v = v || w.ahead[s] })
			if v {
				w.ahead[i], changed = true, true
			}
		}
	}
}

// lockWork reports whether lock work is reachable from the first instruction of the
// static function at start: what a call of it counts as (lockWorkAt).
func (w *walker) lockWork(start int) bool {
	for _, fr := range w.p.functions() {
		if fr.start == start {
			w.functionAhead(fr)
			return w.ahead[start]
		}
	}
	return true // not a function's entry: the check cannot tell
}

// lockKfunc reports whether the walk interprets kfunc name (without "_impl"): the
// res-lock, graph, allocated-object and work-queue kfuncs (graph.go).
func lockKfunc(name string) bool {
	for _, prefix := range []string{"bpf_res_spin_", "bpf_obj_", "bpf_percpu_obj_", "bpf_refcount_", "bpf_list_", "bpf_rbtree_", "bpf_wq_"} {
		if strings.HasPrefix(name, prefix) {
			return true
		}
	}
	return name == "bpf_throw"
}

// mapHoldsLockWork reports whether map mi's value, or its inner map's, holds anything
// the walk follows: a lock of either kind (usable or not), a graph root or node, a
// timer, a work queue, or a kptr to an object that holds one of these. Every lock view
// of the map (lockView) is made of these fields.
func (c *checker) mapHoldsLockWork(mi int) bool {
	if v, ok := c.lockWorkMaps[mi]; ok {
		return v
	}
	matters := func(fields []field) bool {
		for _, f := range fields {
			if f.kind != kindKptr {
				return true
			}
			if f.target != nil {
				for _, tf := range scanFields(f.target) {
					if tf.kind != kindKptr {
						return true
					}
				}
			}
		}
		return false
	}
	v := matters(c.maps[mi].fields)
	if h, ok := c.innerHome(mi); ok && !v {
		v = matters(c.homes[h].info.fields)
	}
	if c.lockWorkMaps == nil {
		c.lockWorkMaps = make(map[int]bool)
	}
	c.lockWorkMaps[mi] = v
	return v
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
