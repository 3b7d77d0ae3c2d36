// SPDX-License-Identifier: Apache-2.0

package spinlock

import (
	"fmt"
	"strings"

	"github.com/cilium/ebpf/asm"
)

// kfuncs: allocated objects (bpf_obj_new, bpf_refcount_acquire), graph objects
// (bpf_list_*, bpf_rbtree_*), whose heads and roots are guarded by the lock of the same
// value or object (the H rules), and the resilient lock (the R rules).

func (w *walker) kfuncCall(idx int, st *state) (int, bool) {
	ins := &w.p.insns[idx]
	fr := st.cur()
	name := strings.TrimSuffix(ins.Reference(), "_impl")
	full := ins.Reference()
	switch name {
	case "bpf_wq_init", "bpf_wq_start", "bpf_wq_set_callback":
		if !w.timerArg(idx, st, fr.regs[asm.R1], full) {
			return 0, false
		}
	}
	if st.locked() && (ins.Offset != 0 || !kfuncAllowedUnderLock(full, w.c.kernel)) {
		w.underLockCall(idx, st, "calls kfunc "+full,
			"Call it after the unlock: only the bpf_list_*/bpf_rbtree_* graph kfuncs, bpf_refcount_acquire, the bpf_iter_num_* iterator and the res-lock kfuncs may run under the lock.", RuleI1)
		return 0, false
	}
	r1, r2 := fr.regs[asm.R1], fr.regs[asm.R2]
	// A kfunc's scalar arguments decide what it does (an object's type): they matter.
	for r := asm.R1; r <= asm.R5; r++ {
		w.markPrecise(fr.regs[r])
	}
	var r0 value
	switch name {
	case "bpf_res_spin_lock":
		return w.resLockCall(idx, st, false)
	case "bpf_res_spin_lock_irqsave":
		return w.resLockCall(idx, st, true)
	case "bpf_res_spin_unlock":
		return w.resUnlockCall(idx, st, false)
	case "bpf_res_spin_unlock_irqrestore":
		return w.resUnlockCall(idx, st, true)

	case "bpf_obj_new":
		h := int32(-1)
		if r1.kind == vScalar && r1.known() {
			h = w.c.allocHomeByID(r1.n)
		}
		if h >= 0 {
			r0 = value{kind: vObjNull, home: h, id: st.newID(), at: int32(idx), flags: fKnown}
		} else {
			r0 = value{kind: vPtrNull, id: st.newID()}
		}
	case "bpf_obj_drop", "bpf_percpu_obj_drop":
		// The object is gone: every copy of the pointer with it.
		if r1.kind == vObj || r1.kind == vObjNull {
			st.forEachValue(func(v *value) {
				if (v.kind == vObj || v.kind == vObjNull) && v.id == r1.id {
					*v = value{}
				}
			})
		}
		r0 = define(st, idx)
	case "bpf_refcount_acquire":
		// A new reference to the same object, with an identity of its own.
		if r1.kind == vObj {
			r0 = value{kind: vObjNull, home: r1.home, id: st.newID(), at: int32(idx), flags: r1.flags & fKnown, n: r1.n}
		} else {
			r0 = value{kind: vPtrNull, id: st.newID()}
		}

	case "bpf_list_push_front", "bpf_list_push_back":
		if !w.graphRoot(idx, st, r1, kindListHead, full) {
			return 0, false
		}
		r0 = define(st, idx)
	case "bpf_list_pop_front", "bpf_list_pop_back", "bpf_list_front", "bpf_list_back":
		if !w.graphRoot(idx, st, r1, kindListHead, full) {
			return 0, false
		}
		r0 = w.graphNode(st, idx, r1, kindListHead)
	case "bpf_rbtree_add":
		if w.kind == rootRbLess {
			return 0, false // refused in a less() callback, not for a lock rule
		}
		if !w.graphRoot(idx, st, r1, kindRbRoot, full) {
			return 0, false
		}
		if cb := fr.regs[asm.R3]; cb.kind == vFunc {
			if _, seen := w.rbLess[int(cb.n)]; !seen {
				w.rbLess[int(cb.n)] = w.rootLock(st, r1)
			}
		}
		r0 = define(st, idx)
	case "bpf_rbtree_remove":
		if w.kind == rootRbLess {
			return 0, false // "bpf_rbtree_remove not allowed in rbtree cb"
		}
		if !w.graphRoot(idx, st, r1, kindRbRoot, full) {
			return 0, false
		}
		r0 = w.graphNode(st, idx, r1, kindRbRoot)
	case "bpf_rbtree_first", "bpf_rbtree_root", "bpf_rbtree_left", "bpf_rbtree_right":
		if !w.graphRoot(idx, st, r1, kindRbRoot, full) {
			return 0, false
		}
		r0 = w.graphNode(st, idx, r1, kindRbRoot)
	case "bpf_throw":
		// Never returns: an exception exit (under a lock the call check above spoke).
		return 0, false
	default:
		if w.c.kfuncReturnsPointer(full) {
			// A kernel object (PTR_TO_BTF_ID): never a map value or an allocated
			// object, whatever it is cast to.
			r0 = value{kind: vPtrNull, flags: fBTF, id: st.newID()}
		} else {
			r0 = define(st, idx)
		}
	}
	_ = r2
	for r := asm.R1; r <= asm.R5; r++ {
		fr.regs[r] = value{}
	}
	fr.regs[asm.R0] = r0
	return idx + 1, true
}

// graphRoot checks the head (or root) argument of a graph kfunc: the lock of the same
// value or object must be held (H1), and it must be that lock, not another (H2). What
// is not a lock rule (a head at a wrong offset, a variable offset) is the kernel's to
// say; the check stays silent then.
//
// It returns false when the path ends there: after a finding, or silently where the
// kernel refuses the call for a reason that is not a lock rule (a pointer that is not at
// a head it knows, a variable offset).
func (w *walker) graphRoot(idx int, st *state, r value, want fieldKind, fn string) bool {
	if r.kind != vMapVal && r.kind != vObj {
		return true // not a pointer the check follows
	}
	if !r.known() {
		return false // "R1 doesn't have constant offset. bpf_list_head has to be at …"
	}
	lv := w.c.hview(r.home)
	var root *field
	for i := range lv.roots {
		if int64(lv.roots[i].off) == r.n && lv.roots[i].kind == want {
			root = &lv.roots[i]
		}
	}
	if root == nil || lv.lock == nil {
		return false // "bpf_list_head not found at offset=N": not a lock rule
	}
	class := w.c.class(r.home)
	for _, l := range st.locks {
		if l.home < 0 && l.class != rbLessClass {
			return true // a lock the check cannot name may be this one
		}
		if l.class == class && l.id == r.id {
			return true
		}
	}
	words := fmt.Sprintf(wordsH1, lv.lock.off, want)
	what := fmt.Sprintf("%s on %s %s without holding its lock %s (offset %d)", fn, want, root.path, lv.lock.path, lv.lock.off)
	rule := RuleH1
	if st.locked() {
		rule = RuleH2
		top := st.locks[len(st.locks)-1]
		what = fmt.Sprintf("%s on %s %s while holding %s, not the lock that guards it (%s, offset %d)", fn, want, root.path, w.lockName(st, top), lv.lock.path, lv.lock.off)
		words = wordsH2 + "\n" + words
	}
	w.report(st, idx, rule, r.home, fmt.Sprintf("%s calls %s of %s; the %s kernel says %q",
		w.p.label(), what, w.c.describeHome(r.home), w.c.kernel, words),
		"Take the bpf_spin_lock of the same map value, global section or object that holds the head, and call the list/rbtree kfunc before unlocking.")
	return false
}

// rootLock is the lock held at a bpf_rbtree_add call that guards root r (the lock its
// less() callback runs under), or an unnamed one.
func (w *walker) rootLock(st *state, r value) heldLock {
	if r.kind == vMapVal || r.kind == vObj {
		class := w.c.class(r.home)
		for _, l := range st.locks {
			if l.class == class && l.id == r.id {
				l.at = -1
				return l
			}
		}
	}
	return heldLock{kind: lockSpin, home: -1, class: rbLessClass, at: -1, flagFrame: -1, flagSlot: -1}
}

// graphNode is what a graph kfunc returns: a node of the head's __contains type, at the
// node member's offset, NULL until checked.
func (w *walker) graphNode(st *state, idx int, r value, want fieldKind) value {
	id := st.newID()
	if (r.kind != vMapVal && r.kind != vObj) || !r.known() {
		return value{kind: vPtrNull, id: id}
	}
	for _, f := range w.c.hview(r.home).roots {
		if int64(f.off) != r.n || f.kind != want || f.contains == "" {
			continue
		}
		h := w.c.allocHomeByName(f.contains)
		if h < 0 {
			break
		}
		off := int64(0)
		for _, nf := range w.c.homes[h].info.fields {
			if (nf.kind == kindListNode || nf.kind == kindRbNode) && strings.HasSuffix(nf.path, "."+f.node) {
				off = int64(nf.off)
			}
		}
		return value{kind: vObjNull, home: h, id: id, at: int32(idx), flags: fKnown, n: off}
	}
	return value{kind: vPtrNull, id: id}
}

// kfuncAllowedUnderLock lists the kfuncs the kernel lets a program call while it holds a
// lock (kfunc_spin_allowed), by the version that allowed them.
func kfuncAllowedUnderLock(name string, v Version) bool {
	switch name {
	case "bpf_list_push_front", "bpf_list_push_back", "bpf_list_pop_front", "bpf_list_pop_back",
		"bpf_list_push_front_impl", "bpf_list_push_back_impl":
		return v.AtLeast(6, 2)
	case "bpf_rbtree_add", "bpf_rbtree_add_impl", "bpf_rbtree_remove", "bpf_rbtree_first":
		return v.AtLeast(6, 3)
	case "bpf_refcount_acquire", "bpf_refcount_acquire_impl":
		return v.AtLeast(6, 4)
	case "bpf_iter_num_new", "bpf_iter_num_next", "bpf_iter_num_destroy":
		return v.AtLeast(6, 14)
	case "bpf_res_spin_lock", "bpf_res_spin_unlock", "bpf_res_spin_lock_irqsave", "bpf_res_spin_unlock_irqrestore":
		return v.AtLeast(6, 15)
	case "bpf_list_front", "bpf_list_back", "bpf_rbtree_root", "bpf_rbtree_left", "bpf_rbtree_right":
		return v.AtLeast(6, 16)
	}
	return false
}
