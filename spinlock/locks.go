// SPDX-License-Identifier: Apache-2.0

package spinlock

import (
	"fmt"

	"github.com/cilium/ebpf/asm"
)

// Taking and releasing locks, bpf_spin_lock and bpf_res_spin_lock alike, as the
// kernel's process_spin_lock checks them; and direct access to a lock word (I9).

// lockFn names a lock call for messages.
func lockFn(kind lockKind, unlock bool) string {
	switch {
	case kind == lockSpin && !unlock:
		return "bpf_spin_lock"
	case kind == lockSpin:
		return "bpf_spin_unlock"
	case kind == lockRes && !unlock:
		return "bpf_res_spin_lock"
	case kind == lockRes:
		return "bpf_res_spin_unlock"
	case !unlock:
		return "bpf_res_spin_lock_irqsave"
	}
	return "bpf_res_spin_unlock_irqrestore"
}

// lockTarget is the lock an argument names: its home, identity and offset.
type lockTarget struct {
	home  int32
	class int32
	id    int32
	off   int64
	from  int32 // where the identity was made
	known bool  // false: a pointer the check does not follow; some lock
}

// lockArg checks the argument of a lock or unlock call the way process_spin_lock does
// and returns the lock it names. It reports and returns false when the kernel would stop.
func (w *walker) lockArg(idx int, st *state, kind lockKind, unlock bool, r value) (lockTarget, bool) {
	fn := lockFn(kind, unlock)
	res := kind != lockSpin
	if res {
		switch {
		case r.kind == vStack, r.kind == vCtx, r.kind == vMapPtr, r.kind == vMapPtrNull, r.kind == vMapValNull,
			r.kind == vObjNull, r.kind == vFunc, r.kind == vScalar && (r.known() || r.flags&fSure != 0), r.flags&(fRCU|fBTF) != 0 && (r.kind == vPtr || r.kind == vPtrNull):
			w.report(st, idx, RuleR6, -1, fmt.Sprintf("%s calls %s on a %s, not on a lock inside a map value or an allocated object; the %s kernel says %q",
				w.p.label(), fn, argKindName(r), w.c.kernel, wordsR6),
				"Put the struct bpf_res_spin_lock in a map value (or a global in .bss/.data) and pass its address.")
			return lockTarget{}, false
		}
	} else if typ := argTypeName(r); typ != "" {
		words := "R1 type=" + typ + " expected=map_value, ptr_"
		w.report(st, idx, RuleI3, -1, fmt.Sprintf("%s calls %s on a %s, not on a lock inside a map value or an allocated object; the %s kernel says %q",
			w.p.label(), fn, argKindName(r), w.c.kernel, words),
			"Put the struct bpf_spin_lock in a map value (or a global in .bss/.data on 6.2+) and pass its address; a kptr must be taken out with bpf_kptr_xchg first.")
		return lockTarget{}, false
	}
	if r.kind != vMapVal && r.kind != vObj {
		// Not a pointer the check follows (an argument of a global function …): some
		// lock, the check cannot say which.
		return lockTarget{}, true
	}
	h := r.home
	hm := w.c.homes[h]
	lv := w.c.hview(h)
	what, name := w.c.kernelHomeName(h)
	rule3, rule5 := RuleI3, RuleI3
	lockF, lockRule, lockStruct := lv.lock, lv.lockRule, "bpf_spin_lock"
	if res {
		rule3, rule5 = RuleR4, RuleR5
		lockF, lockRule, lockStruct = lv.resLock, lv.resLockRule, "bpf_res_spin_lock"
	}
	var mi *mapInfo
	if hm.kind != homeAlloc {
		mi = hm.info
	}
	switch {
	case !r.known():
		w.report(st, idx, rule3, h, fmt.Sprintf("%s calls %s on %s at a variable offset; the %s kernel says %q",
			w.p.label(), fn, w.c.describeHome(h), w.c.kernel, fmt.Sprintf(wordsVarOff, lockStruct[4:])),
			"Pass &value->lock directly, not a pointer computed with a variable index.")
		return lockTarget{}, false
	case mi != nil && !mi.hasBTF:
		w.report(st, idx, RuleM1, h, fmt.Sprintf("%s calls %s on %s, which has no BTF for its value (a legacy map definition); the %s kernel says %q",
			w.p.label(), fn, w.c.describeHome(h), w.c.kernel, fmt.Sprintf(wordsNoBTFKind, name, lockStruct[4:])),
			"Define the map in SEC(\".maps\") with __type(value, …) so that it carries BTF.")
		return lockTarget{}, false
	case mi != nil && lv.btfDropped && !res:
		w.report(st, idx, lv.dropRule, h, w.c.droppedMessage(w.p.label()+" calls "+fn+" on", mi, lv), w.c.droppedFix(mi, lv))
		return lockTarget{}, false
	case mi != nil && lockF == nil && lockRule != "" && !res:
		w.report(st, idx, lockRule, h, w.c.invalidMessage(w.p.label()+" calls "+fn+" on", mi, lv), w.c.invalidFix(lv))
		return lockTarget{}, false
	case lockF == nil:
		words := fmt.Sprintf("%s '%s' has no valid %s", what, name, lockStruct)
		if !res && w.c.kernel.Before(6, 2) && mi != nil {
			words = fmt.Sprintf(wordsNoLock61, name)
		}
		why := ""
		if res && hm.kind == homeAlloc && hm.info.hasKind(kindResLock) {
			why = " (the kernel does not look for a bpf_res_spin_lock in an allocated object)"
		}
		w.report(st, idx, rule5, h, fmt.Sprintf("%s calls %s on %s, whose value holds no usable %s%s; the %s kernel says %q",
			w.p.label(), fn, w.c.describeHome(h), lockStruct, why, w.c.kernel, words),
			fmt.Sprintf("Pass the address of the struct %s member of the value, in a map or global that holds one.", lockStruct))
		return lockTarget{}, false
	case r.n != int64(lockF.off):
		w.report(st, idx, rule3, h, fmt.Sprintf("%s calls %s on offset %d of %s, but its %s %s is at offset %d; the %s kernel says %q",
			w.p.label(), fn, r.n, w.c.describeHome(h), lockStruct, lockF.path, lockF.off, w.c.kernel,
			fmt.Sprintf(wordsOffKind, r.n, lockStruct, lockF.off)),
			fmt.Sprintf("Pass the address of the struct %s member itself.", lockStruct))
		return lockTarget{}, false
	}
	return lockTarget{home: h, class: w.c.class(h), id: r.id, off: r.n, from: r.at, known: true}, true
}

// lock takes a lock on the path (bpf_spin_lock, or the success side of a res lock).
func (w *walker) lock(idx int, st *state, kind lockKind, r value) bool {
	t, ok := w.lockArg(idx, st, kind, false, r)
	if !ok {
		return false
	}
	if kind != lockSpin && t.known {
		for _, l := range st.locks {
			if l.kind != lockSpin && l.class == t.class && l.id == t.id {
				w.report(st, idx, RuleR1, t.home, fmt.Sprintf("%s takes %s again while holding it (taken at insn %d); the %s kernel says %q",
					w.p.label(), w.lockName(st, l), w.p.raw[l.at], w.c.kernel, wordsR1),
					"Take each res lock once per path; check whether it is already held before taking it again.")
				return false
			}
		}
	}
	l := heldLock{kind: kind, home: t.home, class: t.class, id: t.id, off: t.off, at: int32(idx), flagFrame: -1, flagSlot: -1}
	if !t.known {
		l.home, l.class = -1, -1
	}
	st.locks = append(st.locks, l)
	return true
}

// unlock releases a lock on the path, checking it is held and, for nested res locks,
// the last one taken.
func (w *walker) unlock(idx int, st *state, kind lockKind, r value) bool {
	fn := lockFn(kind, true)
	if w.kind == rootRbLess && kind == lockSpin {
		w.report(st, idx, RuleH3, -1, fmt.Sprintf("%s calls %s inside the less() callback of bpf_rbtree_add, which runs under the tree's lock; the %s kernel says %q",
			w.p.label(), fn, w.c.kernel, wordsH3),
			"Only compare the two nodes in the callback: the caller holds the lock and releases it.")
		return false
	}
	t, ok := w.lockArg(idx, st, kind, true, r)
	if !ok {
		return false
	}
	if !st.locked() {
		rule := RuleI4
		w.report(st, idx, rule, t.home, fmt.Sprintf("%s calls %s on %s without holding a lock on this path; the %s kernel says %q",
			w.p.label(), fn, w.targetName(st, kind, t), w.c.kernel, unlockWithoutWords(kind)),
			"Unlock only on the paths that took the lock, once; a res lock is held only where its call returned 0.")
		return false
	}
	if !t.known {
		// Some lock the check cannot name: release the last one of that kind.
		for i := len(st.locks) - 1; i >= 0; i-- {
			if (st.locks[i].kind == lockSpin) == (kind == lockSpin) {
				st.locks = append(st.locks[:i], st.locks[i+1:]...)
				return true
			}
		}
		return true
	}
	held := -1
	for i, l := range st.locks {
		if l.kind == kind && l.class == t.class && l.id == t.id && (l.home < 0 || l.off == t.off) {
			held = i
		}
	}
	top := st.locks[len(st.locks)-1]
	if held < 0 {
		// An unknown lock held by the path may be this one: say nothing.
		for _, l := range st.locks {
			if l.home < 0 && l.kind == kind {
				st.locks = removeLock(st.locks, l)
				return true
			}
		}
		rule, fix := RuleI5, "Unlock through the same pointer (register) that was locked."
		why := ""
		if kind != lockSpin {
			rule = RuleR2
			fix = "Unlock the res lock you took, with the call that matches how it was taken (bpf_res_spin_unlock for bpf_res_spin_lock, _irqrestore for _irqsave)."
		}
		var same *heldLock
		for i := range st.locks {
			if st.locks[i].class == t.class && st.locks[i].off == t.off {
				same = &st.locks[i]
			}
		}
		if same != nil && same.kind != kind {
			why = fmt.Sprintf(" (it was taken with %s)", lockFn(same.kind, false))
		} else if same != nil && w.c.homes[t.home].kind == homeMap && w.c.homes[t.home].info.datasec && kind == lockSpin {
			rule = RuleG1
			why = " (kernel 6.1 gives each load of a global's address a fresh identity, so the lock and the unlock must use the very same register)"
			fix = "Keep &lock in one variable used by both calls, or target kernel 6.2+ where global locks are supported."
		} else if same != nil {
			switch w.c.homes[t.home].kind {
			case homeAlloc:
				why = " (another object counts as another lock, even of the same type)"
			case homeInner:
				why = " (another lookup of an inner map counts as another lock, even with the same keys)"
			default:
				why = " (another lookup of the same map counts as another lock, even with the same key)"
			}
		}
		heldName := w.lockName(st, top)
		w.report(st, idx, rule, t.home, fmt.Sprintf("%s unlocks %s but holds %s (locked at insn %d)%s; the %s kernel says %q",
			w.p.label(), w.targetName(st, kind, t), heldName, w.p.raw[top.at], why, w.c.kernel, differentWords(kind)), fix)
		return false
	}
	if held != len(st.locks)-1 {
		w.report(st, idx, RuleR3, t.home, fmt.Sprintf("%s unlocks %s while %s, taken later (at insn %d), is still held; the %s kernel says %q",
			w.p.label(), w.lockName(st, st.locks[held]), w.lockName(st, top), w.p.raw[top.at], w.c.kernel, fmt.Sprintf(wordsOutOfOrder, fn[:len(fn)-len("_unlock")])),
			"Release nested locks in the reverse order of taking them.")
		return false
	}
	st.locks = st.locks[:len(st.locks)-1]
	return true
}

func removeLock(ls []heldLock, l heldLock) []heldLock {
	for i := range ls {
		if ls[i] == l {
			return append(ls[:i:i], ls[i+1:]...)
		}
	}
	return ls
}

func unlockWithoutWords(kind lockKind) string {
	if kind == lockSpin {
		return wordsI4
	}
	return wordsI4Res
}

func differentWords(kind lockKind) string {
	if kind == lockSpin {
		return wordsI5
	}
	return wordsR2
}

// resLockCall handles bpf_res_spin_lock(_irqsave): the kernel forks a path where the
// call failed (R0 in [-4095, -1], nothing held) from the one where it returned 0 with
// the lock held.
func (w *walker) resLockCall(idx int, st *state, irq bool) (int, bool) {
	fr := st.cur()
	kind := lockRes
	if irq {
		kind = lockResIRQ
	}
	r1, r2 := fr.regs[asm.R1], fr.regs[asm.R2]
	failed := st.clone()
	if !w.lock(idx, st, kind, r1) {
		return 0, false
	}
	if irq && r2.kind == vStack && r2.known() {
		if s, ok := stackSlot(r2.n); ok {
			l := &st.locks[len(st.locks)-1]
			l.flagFrame, l.flagSlot = r2.frame, int8(s)
		}
	}
	w.clobberRes(failed, value{kind: vErrno, id: failed.newID()})
	w.push(idx+1, failed)
	w.clobberRes(st, constant(0))
	return idx + 1, true
}

func (w *walker) clobberRes(st *state, r0 value) {
	fr := st.cur()
	for r := asm.R1; r <= asm.R5; r++ {
		fr.regs[r] = value{}
	}
	fr.regs[asm.R0] = r0
}

// resUnlockCall handles bpf_res_spin_unlock(_irqrestore).
func (w *walker) resUnlockCall(idx int, st *state, irq bool) (int, bool) {
	fr := st.cur()
	kind := lockRes
	if irq {
		kind = lockResIRQ
	}
	if !w.unlock(idx, st, kind, fr.regs[asm.R1]) {
		return 0, false
	}
	w.clobberRes(st, define(st, idx))
	return idx + 1, true
}

// access checks a load or store through ptr+off of size bytes against the locks of the
// value or object it points into (I9).
func (w *walker) access(st *state, idx int, ptr value, off int64, size int, verb string) bool {
	if (ptr.kind != vMapVal && ptr.kind != vObj) || !ptr.known() || size <= 0 {
		return true
	}
	lv := w.c.hview(ptr.home)
	start := ptr.n + off
	for _, l := range []*field{lv.lock, lv.resLock} {
		if l == nil {
			continue
		}
		lo := int64(l.off)
		width := int64(4)
		if start >= lo+width || lo >= start+int64(size) {
			continue
		}
		words := fmt.Sprintf(wordsI9Kind, l.kind)
		if ptr.kind == vObj {
			words = fmt.Sprintf(wordsI9Obj, l.kind)
		}
		w.report(st, idx, RuleI9, ptr.home, fmt.Sprintf("%s %s %d byte(s) at offset %d of %s, overlapping its %s %s (offset %d); the %s kernel says %q",
			w.p.label(), verb, size, start, w.c.describeHome(ptr.home), l.kind, l.path, lo, w.c.kernel, words),
			"Never read or write the lock word: only the lock and unlock calls may touch it (user space uses BPF_F_LOCK).")
		return false
	}
	return true
}

// lockName describes a held lock for messages.
func (w *walker) lockName(st *state, l heldLock) string {
	kind := "bpf_spin_lock"
	if l.kind != lockSpin {
		kind = "bpf_res_spin_lock"
	}
	if l.cb {
		return "the lock of the rbtree whose less() callback this is"
	}
	if l.home < 0 || int(l.home) >= len(w.c.homes) {
		return "a " + kind
	}
	hm := w.c.homes[l.home]
	switch hm.kind {
	case homeAlloc:
		return fmt.Sprintf("the %s of an allocated \"struct %s\" object", kind, hm.typ.Name)
	case homeInner:
		return fmt.Sprintf("the %s of a value of an inner map of %s", kind, w.c.maps[hm.m].describe())
	}
	m := hm.info
	if m.datasec {
		if v, ok := m.varNames[uint32(l.off)]; ok {
			return fmt.Sprintf("the global %s %q in %q", kind, v, m.name)
		}
		return fmt.Sprintf("the global %s in %q", kind, m.name)
	}
	return fmt.Sprintf("the %s of a %q value", kind, m.name)
}

// targetName describes the lock an unlock names.
func (w *walker) targetName(st *state, kind lockKind, t lockTarget) string {
	if !t.known {
		return "a lock"
	}
	l := heldLock{kind: kind, home: t.home, class: t.class, id: t.id, off: t.off}
	name := w.lockName(st, l)
	if hm := w.c.homes[t.home]; t.from > 0 && int(t.from) < len(w.p.raw) && !(hm.kind == homeMap && hm.info.datasec) {
		name += fmt.Sprintf(" (from insn %d)", w.p.raw[t.from])
	}
	return name
}

func (w *walker) report(st *state, idx int, rule string, h int32, msg, fix string) {
	w.reportAt(st, idx, idx, rule, h, msg, fix)
}

// reportAt reports a finding at instruction idx whose source line is blame's.
func (w *walker) reportAt(st *state, idx, blame int, rule string, h int32, msg, fix string) {
	f := Finding{
		Rule:     rule,
		Severity: SeverityError,
		Program:  w.p.name,
		Section:  w.p.section,
		Insn:     w.p.raw[idx],
		Message:  msg,
		Fix:      fix,
	}
	if h >= 0 && int(h) < len(w.c.homes) {
		if m := w.c.homeMapInfo(h); m != nil {
			f.Map = m.name
		}
	} else if len(st.locks) > 0 {
		if l := st.locks[len(st.locks)-1]; l.home >= 0 && int(l.home) < len(w.c.homes) {
			if m := w.c.homeMapInfo(l.home); m != nil {
				f.Map = m.name
			}
		}
	}
	f.File, f.Line = w.p.lineOf(blame)
	if st.uncertain == uncertainCorrelated {
		f.Severity = SeverityWarning
		f.Message = "the kernel may refuse this program, depending on whether it sees two branches as correlated: " + f.Message
	}
	w.c.add(f)
	if h >= 0 && int(h) < len(w.c.homes) {
		if m := w.c.homeMapInfo(h); m != nil {
			w.c.reportedAtCall[m.name] = true
		}
	}
}

// argTypeName is the verifier's name of a register type that can never be a lock
// argument, or "" when the value may be one (or the check does not know).
func argTypeName(r value) string {
	switch r.kind {
	case vStack:
		return "fp"
	case vCtx:
		return "ctx"
	case vMapPtr, vMapPtrNull:
		return "map_ptr"
	case vMapValNull:
		return "map_value_or_null"
	case vObjNull:
		return "ptr_or_null_"
	case vFunc:
		return "func"
	case vScalar, vErrno:
		if r.known() || r.kind == vErrno || r.flags&fSure != 0 {
			return "scalar" // a number the check knows (an unknown one may be a pointer it does not follow)
		}
	}
	if (r.kind == vPtr || r.kind == vPtrNull) && r.flags&fRCU != 0 {
		return "rcu_ptr_"
	}
	if (r.kind == vPtr || r.kind == vPtrNull) && r.flags&fBTF != 0 {
		return "ptr_" // a kernel object from a kfunc: "R1 type=…ptr_ expected=map_value, ptr_"
	}
	return ""
}

func argKindName(r value) string {
	switch r.kind {
	case vStack:
		return "stack variable"
	case vCtx:
		return "context pointer"
	case vMapPtr, vMapPtrNull:
		return "map (not one of its values)"
	case vMapValNull:
		return "map value that may be NULL (check the lookup's result first)"
	case vObjNull:
		return "object that may be NULL (check it first)"
	case vScalar, vErrno:
		return "number"
	}
	if (r.kind == vPtr || r.kind == vPtrNull) && r.flags&fRCU != 0 {
		return "kptr read in place (an RCU pointer: take the object out with bpf_kptr_xchg first)"
	}
	if (r.kind == vPtr || r.kind == vPtrNull) && r.flags&fBTF != 0 {
		return "kernel object returned by a kfunc"
	}
	return "value"
}
