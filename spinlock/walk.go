package spinlock

import (
	"encoding/binary"
	"fmt"
	"hash/maphash"
	"math/bits"

	"github.com/cilium/ebpf/asm"
)

// The walk: every path of a program, from each of its roots, depth first, fall-through
// first. At prune points (jump targets, function entries, conditional jumps) a path
// stops when a state already walked there covers it, as the verifier's is_state_visited
// does: same frames and locks, and for every register and slot that still matters a
// value at least as general (an unknown scalar covers any number; a scalar whose value
// decides nothing later covers any scalar; identities map one to one). Nothing is
// dropped silently: a program whose walk exceeds the step budget gets a warning
// finding that says where the analysis stopped.

const (
	// stepBudget bounds the instructions simulated per program. The verifier's own
	// limit is one million processed instructions (BPF_COMPLEXITY_LIMIT_INSNS); the
	// walk prunes at least as often, so a program the kernel accepts fits.
	stepBudget = 1 << 21
	// bucketCap bounds the states kept per prune point and shape; older ones give
	// way (pruning gets weaker, the walk stays exact).
	bucketCap = 48
	// storedCap bounds the states kept per program.
	storedCap = 1 << 17
	noInsn    = -1
)

// Root kinds: where a walk starts and what holds there.
const (
	rootMain     = iota // the program's entry: R1 is the context
	rootGlobal          // a global function, verified on its own
	rootCallback        // a callback (bpf_loop, for_each, timers …)
	rootRbLess          // the less() callback of bpf_rbtree_add: runs under the tree's lock
)

// rbLessClass is the identity class of the lock an rbtree less() callback runs under
// when the check could not name it.
const rbLessClass = -3

type workItem struct {
	idx int
	st  *state
}

// walker interprets one program.
type walker struct {
	c       *checker
	p       *progInfo
	lv      *progLiveness
	seed    maphash.Seed
	seen    map[uint64][]*state
	stored  int
	steps   int
	work    []workItem
	buf     []byte
	kind    int // the root being walked
	stopped bool
	stopIdx int // where the walk stopped, when stopped
	// rbLess holds, for callbacks seen as the less() of bpf_rbtree_add (by entry
	// index), the lock they run under.
	rbLess map[int]heldLock
}

func newWalker(c *checker, p *progInfo) *walker {
	return &walker{
		c:       c,
		p:       p,
		lv:      analyseLiveness(p),
		seed:    maphash.MakeSeed(),
		seen:    make(map[uint64][]*state),
		stopIdx: noInsn,
		rbLess:  make(map[int]heldLock),
	}
}

// run walks from every root of the program: its entry, each global subprogram and each
// callback.
func (w *walker) run() {
	w.walkRoot(0, rootMain)
	for _, r := range w.p.globalRoots {
		w.walkRoot(r, rootGlobal)
	}
	for _, r := range w.p.callbackRoots {
		if l, ok := w.rbLess[r]; ok {
			w.walkRoot(r, rootRbLess, l)
		} else {
			w.walkRoot(r, rootCallback)
		}
	}
	if w.stopped {
		w.incomplete()
	}
}

// incomplete reports that the walk did not finish: a warning without a rule.
func (w *walker) incomplete() {
	f := Finding{
		Severity: SeverityWarning,
		Program:  w.p.name,
		Section:  w.p.section,
		Insn:     w.p.raw[max(w.stopIdx, 0)],
		Message: fmt.Sprintf("%s was not analysed past instruction %d: the walk simulated %d instructions (its budget) with %d paths still to walk; the kernel may refuse the program for a lock held on a path the check did not reach",
			w.p.label(), w.p.raw[max(w.stopIdx, 0)], w.steps, len(w.work)+1),
		Fix: "Split the program into smaller ones (tail calls, global functions), or run it past the kernel's verifier: this check cannot vouch for it.",
	}
	f.File, f.Line = w.p.lineOf(w.stopIdx)
	w.c.add(f)
}

// walkRoot walks every path from start; held is what the root runs under (an rbtree
// less() callback: the tree's lock).
func (w *walker) walkRoot(start, kind int, held ...heldLock) {
	w.kind = kind
	st := &state{frames: make([]frame, 1, maxFrames), line: -1, prevLine: -1}
	fr := &st.frames[0]
	fr.fn, fr.ret = start, -1
	if kind == rootMain {
		fr.regs[asm.R1] = value{kind: vCtx}
	} else {
		for r := asm.R1; r <= asm.R5; r++ {
			fr.regs[r] = value{kind: vPtr}
		}
	}
	fr.regs[asm.R10] = value{kind: vStack, flags: fKnown, frame: 0}
	if kind == rootRbLess && len(held) == 1 {
		l := held[0]
		l.at, l.cb = int32(start), true
		st.locks = []heldLock{l}
		st.nextID = 1 << 20 // above the caller's identities the lock may carry
	}
	w.work = append(w.work[:0], workItem{start, st})
	for len(w.work) > 0 {
		it := w.work[len(w.work)-1]
		w.work = w.work[:len(w.work)-1]
		w.path(it.idx, it.st)
		if w.stopped {
			return
		}
	}
}

// path runs one path until it exits, fails, is pruned, or the budget runs out.
func (w *walker) path(idx int, st *state) {
	p := w.p
	for {
		if idx < 0 || idx >= len(p.insns) {
			return
		}
		if p.prune[idx] && w.visited(idx, st) {
			return
		}
		w.steps++
		if w.steps > stepBudget {
			w.stopped, w.stopIdx = true, idx
			return
		}
		if st.line < 0 || p.lineKey[idx] != p.lineKey[st.line] {
			st.prevLine, st.line = st.line, int32(idx)
		}
		next, ok := w.step(idx, st)
		if !ok {
			return
		}
		idx = next
	}
}

// visited reports whether a state already walked at idx covers st; if not, it keeps a
// copy of st for later paths.
func (w *walker) visited(idx int, st *state) bool {
	key := w.key(idx, st)
	bucket := w.seen[key]
	for _, old := range bucket {
		if w.covers(old, st, idx) {
			return true
		}
	}
	if w.stored >= storedCap {
		return false
	}
	if len(bucket) >= bucketCap {
		copy(bucket, bucket[1:])
		bucket = bucket[:len(bucket)-1]
		w.stored--
	}
	w.seen[key] = append(bucket, st.clone())
	w.stored++
	return false
}

// key hashes what two states must share exactly to be compared: the instruction, the
// call frames and the locks' kinds and places.
func (w *walker) key(idx int, st *state) uint64 {
	b := w.buf[:0]
	b = binary.LittleEndian.AppendUint32(b, uint32(idx))
	for i := range st.frames {
		b = binary.LittleEndian.AppendUint32(b, uint32(st.frames[i].fn))
		b = binary.LittleEndian.AppendUint32(b, uint32(st.frames[i].ret))
	}
	for _, l := range st.locks {
		b = append(b, byte(l.kind))
		b = binary.LittleEndian.AppendUint32(b, uint32(l.class))
		b = binary.LittleEndian.AppendUint32(b, uint32(l.home))
		b = binary.LittleEndian.AppendUint64(b, uint64(l.off))
	}
	w.buf = b
	return maphash.Bytes(w.seed, b)
}

// idMap pairs the identities of an old state with those of a new one: a function for
// scalars (the new state may know two values equal where the old did not), one to one
// for pointers (aliasing decides which lock an unlock releases).
type idMap struct {
	scal       [][2]int32
	ptr, ptrRv [][2]int32
}

func lookupPair(ps [][2]int32, a int32) (int32, bool) {
	for _, p := range ps {
		if p[0] == a {
			return p[1], true
		}
	}
	return 0, false
}

func (m *idMap) scalar(o, c int32) bool {
	if o == 0 {
		return true
	}
	if c == 0 {
		return false
	}
	if got, ok := lookupPair(m.scal, o); ok {
		return got == c
	}
	m.scal = append(m.scal, [2]int32{o, c})
	return true
}

func (m *idMap) pointer(o, c int32) bool {
	if o == 0 || c == 0 {
		return o == c
	}
	got, ok1 := lookupPair(m.ptr, o)
	back, ok2 := lookupPair(m.ptrRv, c)
	switch {
	case ok1 != ok2:
		return false
	case ok1:
		return got == c && back == o
	}
	m.ptr = append(m.ptr, [2]int32{o, c})
	m.ptrRv = append(m.ptrRv, [2]int32{c, o})
	return true
}

const calleeSaved = regSet(1<<asm.R6 | 1<<asm.R7 | 1<<asm.R8 | 1<<asm.R9)

// covers reports whether every path from st at idx is also a path from old (with at
// least the same findings), so that st need not be walked.
func (w *walker) covers(old, st *state, idx int) bool {
	if old.uncertain != 0 && st.uncertain == 0 {
		return false
	}
	if len(old.frames) != len(st.frames) || len(old.locks) != len(st.locks) {
		return false
	}
	var m idMap
	for i := range old.locks {
		lo, lc := &old.locks[i], &st.locks[i]
		if lo.kind != lc.kind || lo.class != lc.class || lo.home != lc.home || lo.off != lc.off ||
			lo.flagFrame != lc.flagFrame || lo.flagSlot != lc.flagSlot || !m.pointer(lo.id, lc.id) {
			return false
		}
	}
	top := len(old.frames) - 1
	for f := top; f >= 0; f-- {
		fo, fc := &old.frames[f], &st.frames[f]
		if fo.fn != fc.fn || fo.ret != fc.ret {
			return false
		}
		var live, rel liveSet
		if f == top {
			live, rel = w.lv.live[idx], w.lv.rel[idx]
		} else {
			// A caller waits at its call: what matters there, minus what the call sets.
			cs := old.frames[f+1].ret - 1
			if cs < 0 || cs >= len(w.lv.live) {
				return false
			}
			live, rel = w.lv.live[cs], w.lv.rel[cs]
			live.regs &= calleeSaved
			rel.regs &= calleeSaved
		}
		for r := asm.R0; r < asm.R10; r++ {
			if live.regs&regBit(r) == 0 {
				continue
			}
			if !covValue(fo.regs[r], fc.regs[r], rel.regs&regBit(r) != 0, &m) {
				return false
			}
		}
		for s := uint64(live.slots) & (fo.used | fc.used); s != 0; s &= s - 1 {
			k := bits.TrailingZeros64(s)
			if !covValue(fo.slot(k), fc.slot(k), uint64(rel.slots)&(1<<k) != 0, &m) {
				return false
			}
		}
	}
	// What the old state learnt of a value it still compares, the new one knows too.
	for _, fo := range old.facts {
		cid, ok := lookupPair(m.scal, fo.id)
		if !ok {
			continue
		}
		found := false
		for _, fc := range st.facts {
			if fc.id == cid && fc.op == fo.op && fc.w32 == fo.w32 && fc.c == fo.c && fc.taken == fo.taken {
				found = true
				break
			}
		}
		if !found {
			return false
		}
	}
	return true
}

// covValue reports whether old value o is at least as general as c. relevant says
// whether a scalar's number still matters.
func covValue(o, c value, relevant bool, m *idMap) bool {
	if o.isScalar() && c.isScalar() {
		if !relevant {
			return true
		}
		if !m.scalar(o.id, c.id) {
			return false
		}
		if o.kind == vErrno || c.kind == vErrno {
			return o.kind == c.kind || (o.kind == vScalar && !o.known() && !o.bnd())
		}
		switch {
		case o.known():
			return c.known() && c.n == o.n
		case o.bnd():
			return (c.known() && uint64(c.n) <= o.max()) || (c.bnd() && c.max() <= o.max())
		}
		return true
	}
	if o.kind != c.kind {
		return false
	}
	switch o.kind {
	case vNone:
		return true
	case vStack:
		if o.frame != c.frame {
			return false
		}
	case vMapPtr, vMapPtrNull, vMapVal, vMapValNull, vObj, vObjNull:
		if o.home != c.home {
			return false
		}
	}
	if o.known() && (!c.known() || c.n != o.n) {
		return false
	}
	return m.pointer(o.id, c.id)
}
