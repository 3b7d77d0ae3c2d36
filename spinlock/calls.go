// SPDX-License-Identifier: Apache-2.0

package spinlock

import (
	"fmt"

	"github.com/cilium/ebpf/asm"
	"github.com/cilium/ebpf/btf"
)

// Calls and exits: helpers, kfuncs, BPF-to-BPF calls, and what the kernel checks when a
// program, a subprogram or a callback returns.

// Helper function IDs (enum bpf_func_id) the interpreter knows.
const (
	fnMapLookupElem    = 1
	fnTailCall         = 12
	fnSpinLock         = 93
	fnSpinUnlock       = 94
	fnSkStorageGet     = 107
	fnInodeStorage     = 145
	fnTaskStorageGet   = 156
	fnForEachMapElem   = 164
	fnTimerInit        = 169
	fnTimerSetCallback = 170
	fnTimerCancel      = 172
	fnFindVMA          = 180
	fnLoop             = 181
	fnKptrXchg         = 194
	fnUserRingbufDrain = 209
	fnCgrpStorageGet   = 210
)

func (w *walker) call(idx int, st *state) (int, bool) {
	ins := &w.p.insns[idx]
	switch {
	case ins.IsFunctionCall():
		return w.subprogCall(idx, st)
	case ins.IsKfuncCall():
		return w.kfuncCall(idx, st)
	case ins.Src != 0:
		w.clobber(st, idx)
		return idx + 1, true
	}
	return w.helperCall(idx, st)
}

// underLockCall reports the kernel's check of a call made while a lock is held: only
// bpf_spin_unlock among helpers, and the graph, iterator and res-lock kfuncs, may be
// called then. It returns false when it reported.
func (w *walker) underLockCall(idx int, st *state, what, fix string, rule string) bool {
	top := st.locks[len(st.locks)-1]
	w.report(st, idx, rule, -1, fmt.Sprintf("%s %s while holding %s; the %s kernel says %q",
		w.p.label(), what, w.lockName(st, top), w.c.kernel, kernelWords(rule, w.c.kernel, "")), fix)
	return false
}

func (w *walker) helperCall(idx int, st *state) (int, bool) {
	ins := &w.p.insns[idx]
	fr := st.cur()
	fn := ins.Constant
	if st.locked() && fn != fnSpinUnlock {
		rule, what, fix := RuleI1, "calls "+helperName(fn), "Move the call out of the locked region: copy what you need under the lock, unlock, then call."
		switch fn {
		case fnSpinLock:
			if _, spin := st.spinLock(); spin {
				rule, what, fix = RuleI2, "takes a second bpf_spin_lock", "Release the first lock before taking another one: the kernel allows one bpf_spin_lock at a time."
			} else {
				what = "calls bpf_spin_lock"
				fix = "Take the bpf_spin_lock before the bpf_res_spin_lock, or release the res lock first."
			}
		case fnTailCall:
			rule, what, fix = RuleI8, "makes a tail call (bpf_tail_call)", "Unlock before bpf_tail_call: a tail call never returns to release the lock."
		}
		w.underLockCall(idx, st, what, fix, rule)
		return 0, false
	}
	if fn >= fnTimerInit && fn <= fnTimerCancel && !w.timerArg(idx, st, fr.regs[asm.R1], helperName(fn)) {
		return 0, false
	}
	switch fn {
	case fnSpinLock:
		if !w.lock(idx, st, lockSpin, fr.regs[asm.R1]) {
			return 0, false
		}
	case fnSpinUnlock:
		if !w.unlock(idx, st, lockSpin, fr.regs[asm.R1]) {
			return 0, false
		}
	case fnKptrXchg:
		if r1 := fr.regs[asm.R1]; r1.kind == vMapVal && r1.known() && w.c.kernel.Before(6, 2) && w.c.localKptr(r1.home, r1.n) != nil {
			return 0, false // "map '%s' has no valid kptr": not a lock rule, the path ends
		}
	case fnLoop, fnForEachMapElem, fnUserRingbufDrain, fnTimerSetCallback:
		// Callbacks are walked as roots of their own (p.callbackRoots).
	}
	w.clobber(st, idx)
	return idx + 1, true
}

// clobber applies a helper or kfunc call's effect on registers: R1–R5 unreadable, R0 the
// result (a map value or an inner map, NULL or not, after a lookup; an object after a
// kptr exchange).
func (w *walker) clobber(st *state, idx int) {
	ins := &w.p.insns[idx]
	fr := st.cur()
	r0 := define(st, idx)
	if ins.Src == 0 {
		switch ins.Constant {
		case fnMapLookupElem, fnSkStorageGet, fnInodeStorage, fnTaskStorageGet, fnCgrpStorageGet:
			if mp := fr.regs[asm.R1]; mp.kind == vMapPtr {
				r0 = w.lookupResult(st, idx, mp.home)
			}
		case fnKptrXchg:
			r0 = w.kptrXchg(st, idx, fr.regs[asm.R1])
		}
	}
	for r := asm.R1; r <= asm.R5; r++ {
		fr.regs[r] = value{}
	}
	fr.regs[asm.R0] = r0
}

// lookupResult is what bpf_map_lookup_elem returns for the map in home h: one of its
// values, or for a map of maps one of its inner maps; NULL until checked. Each lookup
// has its own identity, which is what makes two lookups two locks.
func (w *walker) lookupResult(st *state, idx int, h int32) value {
	id := st.newID()
	if hm := w.c.homes[h]; hm.kind == homeMap && isMapOfMaps(hm.info.typ) {
		if in, ok := w.c.innerHome(hm.m); ok {
			return value{kind: vMapPtrNull, home: in, id: id, at: int32(idx)}
		}
		return value{kind: vPtrNull, id: id}
	}
	return value{kind: vMapValNull, home: h, id: id, at: int32(idx), flags: fKnown}
}

// kptrXchg is bpf_kptr_xchg(&value->field, new)'s result: the object the field held.
func (w *walker) kptrXchg(st *state, idx int, dst value) value {
	id := st.newID()
	if dst.kind == vMapVal && dst.known() {
		for _, f := range w.c.hview(dst.home).kptrs {
			if int64(f.off) == dst.n && f.target != nil {
				return value{kind: vObjNull, home: w.c.allocHome(f.target), id: id, at: int32(idx), flags: fKnown}
			}
		}
	}
	return value{kind: vPtrNull, id: id}
}

func (w *walker) subprogCall(idx int, st *state) (int, bool) {
	ins := &w.p.insns[idx]
	target, ok := w.p.funcStart[ins.Reference()]
	if !ok {
		return 0, false
	}
	global := w.p.global[target]
	if st.locked() && (global || w.c.kernel.Before(6, 9)) {
		rule := RuleI1
		fix := "Call the function after bpf_spin_unlock (kernels before 6.9 allow no calls at all under the lock)."
		if global && w.c.kernel.AtLeast(6, 9) {
			rule = RuleI1a
			fix = "Make the function static (static __always_inline or static __noinline), or call it after bpf_spin_unlock."
			if w.c.kernel.Before(6, 9) {
				fix = "Call the function after bpf_spin_unlock: before 6.9 not even static functions may be called under the lock."
			}
		}
		kind := "static"
		if global {
			kind = "global"
		}
		w.underLockCall(idx, st, fmt.Sprintf("calls %s function %s", kind, ins.Reference()), fix, rule)
		return 0, false
	}
	if global {
		// Verified on its own (a root of its own); the caller sees a scalar result.
		w.clobber(st, idx)
		return idx + 1, true
	}
	if len(st.frames) >= maxFrames {
		return 0, false
	}
	for i := range st.frames {
		if st.frames[i].fn == target {
			return 0, false // recursion: the kernel refuses it
		}
	}
	caller := st.cur()
	var callee frame
	callee.fn, callee.ret = target, idx+1
	for r := asm.R1; r <= asm.R5; r++ {
		callee.regs[r] = caller.regs[r]
	}
	callee.regs[asm.R10] = value{kind: vStack, flags: fKnown, frame: int8(len(st.frames))}
	st.frames = append(st.frames, callee)
	return target, true
}

func (w *walker) exit(idx int, st *state) (int, bool) {
	root := len(st.frames) == 1
	if root && st.locked() {
		switch w.kind {
		case rootCallback:
			if w.c.kernel.AtLeast(6, 9) {
				// The helper calls the callback again, with the lock still held: walk it
				// once more in that state (the kernel verifies callbacks iteratively).
				next := &state{frames: make([]frame, 1, maxFrames), locks: append([]heldLock(nil), st.locks...),
					uncertain: st.uncertain, nextID: st.nextID, line: -1, prevLine: -1}
				fn := st.frames[0].fn
				next.frames[0] = frame{fn: fn, ret: -1}
				for r := asm.R1; r <= asm.R5; r++ {
					next.frames[0].regs[r] = value{kind: vPtr}
				}
				next.frames[0].regs[asm.R10] = value{kind: vStack, flags: fKnown}
				w.push(fn, next)
				return 0, false
			}
		case rootRbLess:
			// The tree's lock (the first) is the caller's to release.
			if len(st.locks) == 1 {
				return 0, false
			}
		}
	}
	if st.locked() {
		l := st.locks[len(st.locks)-1]
		blame := w.exitBlame(idx, st)
		switch {
		case !root && w.c.kernel.Before(6, 9):
			w.reportAt(st, idx, blame, RuleI6, l.home, fmt.Sprintf("%s: subprogram %s returns while holding %s (locked at insn %d); the %s kernel says %q",
				w.p.label(), w.p.funcName[st.cur().fn], w.lockName(st, l), w.p.raw[l.at], w.c.kernel, wordsI6),
				"Unlock before returning: kernels before 6.9 do not let a subprogram return with the lock held.")
			return 0, false
		case root:
			rule := RuleI6
			if w.c.kernel.AtLeast(6, 13) {
				rule = RuleI6b
			}
			who := w.p.label() + " can return"
			if w.kind == rootGlobal {
				who = fmt.Sprintf("%s: global function %s, which the kernel verifies on its own, can return", w.p.label(), w.p.funcName[st.cur().fn])
			}
			where := ""
			if file, line := w.p.lineOf(blame); line > 0 {
				where = fmt.Sprintf(" at %s:%d", file, line)
			}
			w.reportAt(st, idx, blame, rule, l.home, fmt.Sprintf("%s%s while holding %s (locked at insn %d); the %s kernel says %q",
				who, where, w.lockName(st, l), w.p.raw[l.at], w.c.kernel, kernelWords(rule, w.c.kernel, "")),
				"Call the unlock on every path before returning, including early returns.")
			return 0, false
		}
	}
	if root {
		return 0, false
	}
	callee := st.cur()
	r0 := callee.regs[asm.R0]
	ret := callee.ret
	dead := int8(len(st.frames) - 1)
	st.frames = st.frames[:len(st.frames)-1]
	// Pointers into the dead frame's stack are gone; every other value, pointers to map
	// values and objects included, keeps its identity (a subprogram may return the
	// value it locked, and its caller's NULL check still decides).
	if r0.kind == vStack && r0.frame >= dead {
		r0 = value{kind: vPtr}
	}
	st.forEachValue(func(v *value) {
		if v.kind == vStack && v.frame >= dead {
			*v = value{kind: vPtr}
		}
	})
	caller := st.cur()
	for r := asm.R1; r <= asm.R5; r++ {
		caller.regs[r] = value{}
	}
	caller.regs[asm.R0] = r0
	return ret, true
}

// exitBlame is the instruction whose source line a finding at an exit points to: the
// return statement that reached the function's shared exit, when the exit itself is
// the function's closing brace.
func (w *walker) exitBlame(idx int, st *state) int {
	_, exitLine := w.p.lineOf(idx)
	if exitLine == 0 || st.prevLine < 0 || int(st.line) < 0 {
		return idx
	}
	if exitLine < w.p.lastLine[st.cur().fn] {
		return idx // an exit in the middle of the function: its own line is the return
	}
	// The path entered the exit's line last; the line before it is the return.
	if w.p.lineKey[st.line] == w.p.lineKey[idx] {
		if _, l := w.p.lineOf(int(st.prevLine)); l > 0 {
			return int(st.prevLine)
		}
	}
	return idx
}

// helperName turns cilium's FnGetPrandomU32 into bpf_get_prandom_u32.
func helperName(id int64) string {
	s := asm.BuiltinFunc(id).String()
	if len(s) < 3 || s[:2] != "Fn" {
		return fmt.Sprintf("helper #%d", id)
	}
	out := []byte("bpf")
	for i := 2; i < len(s); i++ {
		c := s[i]
		if c >= 'A' && c <= 'Z' {
			out = append(out, '_', c-'A'+'a')
		} else {
			out = append(out, c)
		}
	}
	return string(out)
}

// timerArg checks the bpf_timer/bpf_wq argument of a timer helper or wq kfunc: in a map
// whose creation with BTF fails for the timer (M7), the kernel says the map has no BTF.
func (w *walker) timerArg(idx int, st *state, r value, fn string) bool {
	if r.kind != vMapVal || w.c.homes[r.home].kind != homeMap {
		return true
	}
	m := w.c.maps[r.home]
	lv := w.c.view(int(r.home))
	if !lv.btfDropped || lv.dropRule != RuleM7 {
		return true
	}
	w.report(st, idx, RuleM7, r.home, w.c.droppedMessage(w.p.label()+" calls "+fn+" on", m, lv), w.c.droppedFix(m, lv))
	return false
}

// localKptr returns the __kptr field at off of the values of home h whose target is a
// type of the program's own (one holding a lock, a graph root or node, or a refcount:
// no kernel type does), whatever the kernel version, or nil.
func (c *checker) localKptr(h int32, off int64) *field {
	for i, f := range c.homes[h].info.fields {
		if f.kind != kindKptr || int64(f.off) != off || f.target == nil {
			continue
		}
		for _, tf := range scanFields(f.target) {
			switch tf.kind {
			case kindLock, kindResLock, kindListHead, kindRbRoot, kindListNode, kindRbNode, kindRefcount:
				return &c.homes[h].info.fields[i]
			}
		}
	}
	return nil
}

// kfuncReturnsPointer reports whether the object declares kfunc name as returning a
// pointer.
func (c *checker) kfuncReturnsPointer(name string) bool {
	if c.types == nil {
		return false
	}
	var fn *btf.Func
	if err := c.types.TypeByName(name, &fn); err != nil {
		return false
	}
	proto, ok := fn.Type.(*btf.FuncProto)
	if !ok {
		return false
	}
	_, ptr := btf.UnderlyingType(proto.Return).(*btf.Pointer)
	return ptr
}
