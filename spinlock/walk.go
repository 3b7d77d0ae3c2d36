// SPDX-License-Identifier: Apache-2.0

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
	// workBudget bounds the work per program: instructions simulated plus states
	// compared at prune points (a few hundred nanoseconds each, so a few seconds at
	// most). The verifier's own limit is one million processed instructions
	// (BPF_COMPLEXITY_LIMIT_INSNS); the largest real programs measured (loxilb's,
	// 321,625 and 925,342 processed by the kernel) need 3.1 million here.
	workBudget = 12 << 20
	// bucketCap bounds the states kept per prune point and shape; older ones give
	// way (pruning gets weaker, the walk stays exact).
	bucketCap = 512
	// storedCap bounds the states kept per program, and pendingCap the paths waiting to be
	// walked. Either full ends the walk as the budget does: past them the walk could no
	// longer prune, and each state costs memory (a walk that filled both held ~2.5 GB).
	// The largest real programs measured keep ~40,000 states.
	storedCap  = 1 << 18
	pendingCap = 1 << 18
	noInsn     = -1
	// addSteps and addJumps: a path keeps a state at a prune point only after this many
	// instructions and jumps since the last one it kept.
	addSteps = 8
	addJumps = 2
)

// walkBudget is the budget each walk gets: workBudget, lowered by the fuzz tests so
// that a mutated program that loops until the budget costs milliseconds, not seconds.
var walkBudget = workBudget

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
	seen    map[uint64]*bucket
	stored  int
	steps   int
	work    []workItem
	buf     []byte
	kind    int // the root being walked
	stopped bool
	stopIdx int // where the walk stopped, when stopped
	// ahead: per instruction, whether lock work is reachable from it (workAhead), for
	// the functions in aheadDone (by entry); aheadAll once it holds every function
	ahead     []bool
	aheadDone map[int]bool
	aheadAll  bool
	// unfinished lists, per root whose walk stopped, where (stopped and stopIdx are reset
	// for the next root)
	unfinished []int
	// rbLess holds, for callbacks seen as the less() of bpf_rbtree_add (by entry
	// index), the lock they run under.
	rbLess map[int]heldLock
	// lastDiff remembers, per instruction, the register (0–9) or slot (16+k) whose values
	// last told two states apart there: covers compares it first.
	lastDiff []uint8
	budget   int // work allowed (workBudget): steps plus comparisons
	// maxStored and maxPending: storedCap and pendingCap (lowered by tests)
	maxStored, maxPending int
	// precise marks, per instruction, that a value it made decided something (a
	// branch, a pointer's offset, a kfunc argument); deps lists the origins of the
	// operands each instruction computed from, so that a mark reaches them too. Like the
	// verifier's precision marks, they let a complete state ignore numbers nothing
	// depended on.
	precise  []bool
	deps     [][]int32
	compares int // states compared at prune points
	lists    [][]*state
	// onMiss, when set (tests), sees each state no stored one covered, with the newest
	// of those it was compared with.
	onMiss func(idx int, old, st *state)
}

func newWalker(c *checker, p *progInfo) *walker {
	return &walker{
		c:          c,
		p:          p,
		lv:         analyseLiveness(p),
		seed:       maphash.MakeSeed(),
		seen:       make(map[uint64]*bucket),
		stopIdx:    noInsn,
		rbLess:     make(map[int]heldLock),
		lastDiff:   make([]uint8, len(p.insns)),
		budget:     walkBudget,
		maxStored:  storedCap,
		maxPending: pendingCap,
		precise:    make([]bool, len(p.insns)),
		deps:       make([][]int32, len(p.insns)),
	}
}

// run walks from every root of the program: its entry, each global subprogram and each
// callback. A root whose walk stops (its budget, or the states it may keep) is reported
// on its own, and the other roots are still walked with what is left of the budget.
func (w *walker) run() {
	w.root(0, rootMain)
	for _, r := range w.p.globalRoots {
		w.root(r, rootGlobal)
	}
	for _, r := range w.p.callbackRoots {
		if l, ok := w.rbLess[r]; ok {
			w.root(r, rootRbLess, l)
		} else {
			w.root(r, rootCallback)
		}
	}
}

// root walks one root. One that reaches no lock work ends at its first instruction
// (lockFreeTail), as sched_ext's arena heaps do.
func (w *walker) root(start, kind int, held ...heldLock) {
	w.walkRoot(start, kind, held...)
	if !w.stopped {
		return
	}
	w.incomplete(start, kind)
	w.unfinished = append(w.unfinished, w.stopIdx)
	// The states the stopped root kept are what filled the store: the next root starts
	// with an empty one (it loses only pruning against states of another root).
	w.stopped, w.stopIdx = false, noInsn
	clear(w.seen)
	w.stored = 0
}

// incomplete reports that the walk of the root at start did not finish: a warning
// without a rule.
func (w *walker) incomplete(start, kind int) {
	what := w.p.label()
	if kind != rootMain {
		k := "callback"
		if kind == rootGlobal {
			k = "global function"
		}
		what = fmt.Sprintf("%s: %s %s", what, k, w.p.funcName[start])
	}
	f := Finding{
		Severity: SeverityWarning,
		Program:  w.p.name,
		Section:  w.p.section,
		Insn:     w.p.raw[max(w.stopIdx, 0)],
		Message: fmt.Sprintf("%s was not analysed past instruction %d: the walk reached its %s (%d instructions simulated, %d states compared, %d kept) with %d paths still to walk; the kernel may refuse the program for a lock held on a path the check did not reach",
			what, w.p.raw[max(w.stopIdx, 0)], w.limit(), w.steps, w.compares, w.stored, len(w.work)+1),
		Fix: "Split the program into smaller ones (tail calls, global functions), or run it past the kernel's verifier: this check cannot vouch for it.",
	}
	f.File, f.Line = w.p.lineOf(w.stopIdx)
	w.c.add(f)
}

// limit names the limit that stopped the walk.
func (w *walker) limit() string {
	switch {
	case w.stored >= w.maxStored:
		return fmt.Sprintf("limit of %d states kept", w.maxStored)
	case len(w.work) > w.maxPending:
		return fmt.Sprintf("limit of %d paths waiting", w.maxPending)
	}
	return "budget"
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
		w.finish(it.st.node)
		if w.stopped {
			return
		}
	}
}

// push queues the other side of a branch: one more path below the state's node.
func (w *walker) push(idx int, st *state) {
	if st.node != nil {
		st.node.branches++
	}
	w.work = append(w.work, workItem{idx, st})
}

// finish ends a path below node n: nodes whose subtrees are now complete say so to
// their parents.
func (w *walker) finish(n *ckpt) {
	for ; n != nil; n = n.parent {
		n.branches--
		if n.branches > 0 {
			return
		}
	}
}

// markPrecise marks the origins of scalars a decision depended on.
func (w *walker) markPrecise(vs ...value) {
	for _, v := range vs {
		if v.isScalar() && v.at > 0 {
			w.mark(int(v.at - 1))
		}
	}
}

func (w *walker) mark(i int) {
	if i < 0 || i >= len(w.precise) || w.precise[i] {
		return
	}
	w.precise[i] = true
	for _, d := range w.deps[i] {
		w.mark(int(d - 1))
	}
}

// dep records that instruction idx computed from the values vs: a later mark of idx
// reaches their origins.
func (w *walker) dep(idx int, vs ...value) {
	for _, v := range vs {
		if !v.isScalar() || v.at <= 0 || int(v.at-1) == idx {
			continue
		}
		known := false
		for _, d := range w.deps[idx] {
			if d == v.at {
				known = true
				break
			}
		}
		if !known {
			w.deps[idx] = append(w.deps[idx], v.at)
			if w.precise[idx] {
				w.mark(int(v.at - 1))
			}
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
		if p.prune[idx] && (w.lockFreeTail(idx, st) || w.visited(idx, st)) {
			return
		}
		w.steps++
		if w.steps+w.compares > w.budget || w.stored >= w.maxStored || len(w.work) > w.maxPending {
			w.stopped, w.stopIdx = true, idx
			return
		}
		if st.stepsSince < 1<<15 {
			st.stepsSince++
		}
		if op := p.insns[idx].OpCode; op.Class().IsJump() && op.JumpOp() != asm.Call && op.JumpOp() != asm.Exit && st.jumpsSince < 1<<15 {
			st.jumpsSince++
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
	b := w.seen[key]
	if b == nil {
		b = &bucket{disc: noDisc}
		w.seen[key] = b
	}
	var last *state
	w.lists = b.candidates(st, w.lists[:0])
	for _, list := range w.lists {
		for i := len(list) - 1; i >= 0; i-- {
			old := list[i]
			if w.covers(old, st, idx) {
				return true
			}
			last = old
		}
	}
	if w.onMiss != nil && last != nil {
		w.onMiss(idx, last, st)
	}
	// Keep a state only every few instructions and jumps, as the verifier does: it is
	// cheaper to walk a few instructions again than to compare with every state.
	if w.stored >= storedCap || st.stepsSince < addSteps || st.jumpsSince < addJumps {
		return false
	}
	st.stepsSince, st.jumpsSince = 0, 0
	n := &ckpt{parent: st.node, branches: 1}
	st.node = n
	b.add(w, idx, st.clone())
	w.stored++
	return false
}

// A bucket holds the states kept at one prune point (and shape). Once it grows, it is
// split on one register or slot (the discriminator: a loop counter, typically) by the
// constant it holds there: an old state whose discriminator is the constant c can only
// cover a state with c there too, so a lookup reads the states of one constant and
// those where the discriminator is not a constant. Each part splits again the same way
// when it grows, on another discriminator.
type bucket struct {
	all   []*state // before the split
	disc  int      // noDisc, a register (0–9) or 16+slot
	parts map[int64]*bucket
	other *bucket
	depth int
}

const (
	noDisc   = -1
	splitLen = 16
	maxDepth = 6
)

// discValue is the top frame's value at discriminator d.
func discValue(st *state, d int) value {
	fr := st.cur()
	if d < 16 {
		return fr.regs[d]
	}
	return fr.slot(d - 16)
}

// candidates appends the lists of states that may cover st.
func (b *bucket) candidates(st *state, out [][]*state) [][]*state {
	if b == nil {
		return out
	}
	if b.disc == noDisc {
		return append(out, b.all)
	}
	out = b.other.candidates(st, out)
	if v := discValue(st, b.disc); v.kind == vScalar && v.known() {
		out = b.parts[v.n].candidates(st, out)
	}
	return out
}

func (b *bucket) add(w *walker, idx int, st *state) {
	if b.disc == noDisc {
		b.all = append(b.all, st)
		if len(b.all) > bucketCap {
			b.all = b.all[1:]
			w.stored--
		}
		if len(b.all) >= splitLen && b.depth < maxDepth {
			b.split(w, idx)
		}
		return
	}
	if v := discValue(st, b.disc); v.kind == vScalar && v.known() {
		p := b.parts[v.n]
		if p == nil {
			p = &bucket{disc: noDisc, depth: b.depth + 1}
			b.parts[v.n] = p
		}
		p.add(w, idx, st)
		return
	}
	if b.other == nil {
		b.other = &bucket{disc: noDisc, depth: b.depth + 1}
	}
	b.other.add(w, idx, st)
}

// split picks the relevant register or slot holding the most distinct constants among
// the bucket's states, and sorts them by it.
func (b *bucket) split(w *walker, idx int) {
	rel := w.lv.rel[idx]
	best, bestN := noDisc, 1
	count := func(d int) int {
		seen := make(map[int64]struct{})
		for _, s := range b.all {
			if v := discValue(s, d); v.kind == vScalar && v.known() {
				seen[v.n] = struct{}{}
			}
		}
		return len(seen)
	}
	for r := asm.R0; r < asm.R10; r++ {
		if rel.regs&regBit(r) != 0 {
			if n := count(int(r)); n > bestN {
				best, bestN = int(r), n
			}
		}
	}
	for sl := uint64(rel.slots); sl != 0; sl &= sl - 1 {
		k := bits.TrailingZeros64(sl)
		if n := count(16 + k); n > bestN {
			best, bestN = 16+k, n
		}
	}
	if best == noDisc {
		return
	}
	b.disc, b.parts = best, make(map[int64]*bucket)
	all := b.all
	b.all = nil
	for _, s := range all {
		b.add(w, idx, s)
	}
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

func hasFacts(facts []fact, id int32) bool {
	for _, f := range facts {
		if f.id == id && id != 0 {
			return true
		}
	}
	return false
}

const calleeSaved = regSet(1<<asm.R6 | 1<<asm.R7 | 1<<asm.R8 | 1<<asm.R9)

// covers reports whether every path from st at idx is also a path from old (with at
// least the same findings), so that st need not be walked.
func (w *walker) covers(old, st *state, idx int) bool {
	w.compares++
	ne := w.neNarrows()
	// A complete state's precision marks are final: a number of it no decision
	// depended on need not match (a state still being walked compares every relevant one).
	var prec []bool
	if old.node != nil && old.node.branches == 0 {
		prec = w.precise
	}
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
	// The place that told states apart last time here most likely does again.
	if d := w.lastDiff[idx]; d != 0 {
		fo, fc := &old.frames[top], &st.frames[top]
		live, rel := w.lv.live[idx], w.lv.rel[idx]
		var pm idMap
		if d < 16 {
			r := asm.Register(d - 1)
			if live.regs&regBit(r) != 0 && !covValue(fo.regs[r], fc.regs[r], rel.regs&regBit(r) != 0, &pm, old.facts, st.facts, ne, prec) {
				return false
			}
		} else if k := int(d - 16); uint64(live.slots)&(1<<k) != 0 &&
			!covValue(fo.slot(k), fc.slot(k), uint64(rel.slots)&(1<<k) != 0, &pm, old.facts, st.facts, ne, prec) {
			return false
		}
	}
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
			if !covValue(fo.regs[r], fc.regs[r], rel.regs&regBit(r) != 0, &m, old.facts, st.facts, ne, prec) {
				if f == top {
					w.lastDiff[idx] = uint8(r) + 1
				}
				return false
			}
		}
		for s := uint64(live.slots) & (fo.used | fc.used); s != 0; s &= s - 1 {
			k := bits.TrailingZeros64(s)
			if !covValue(fo.slot(k), fc.slot(k), uint64(rel.slots)&(1<<k) != 0, &m, old.facts, st.facts, ne, prec) {
				if f == top {
					w.lastDiff[idx] = uint8(16 + k)
				}
				return false
			}
		}
	}
	return true
}

// covValue reports whether old value o is at least as general as c. relevant says
// whether a scalar's number still matters; then what each state knows of it (its value,
// and the ranges the branches taken on it leave) must be at least as wide in o.
func covValue(o, c value, relevant bool, m *idMap, ofacts, cfacts []fact, ne bool, prec []bool) bool {
	// An uninitialised register or slot acts as an unknown number in the walk (reading
	// one is the kernel's error, not a lock rule's), and liveness here is per
	// instruction, not per path: compare it as one.
	if o.kind == vNone {
		o = value{kind: vScalar}
	}
	if c.kind == vNone {
		c = value{kind: vScalar}
	}
	if o.isScalar() && c.isScalar() {
		if !relevant || prec != nil && o.kind == vScalar && o.at > 0 && !prec[o.at-1] {
			return true
		}
		if !m.scalar(o.id, c.id) {
			return false
		}
		// The common cases without ranges: a constant, and a number known nothing of.
		if o.kind == vScalar && c.kind == vScalar {
			if o.known() {
				return c.known() && c.n == o.n
			}
			if !hasFacts(ofacts, o.id) {
				switch {
				case !o.bnd():
					return true
				case c.known():
					return uint64(c.n) <= o.max()
				case c.bnd() && c.max() <= o.max():
					return true
				}
			}
		}
		if o.kind == vErrno || c.kind == vErrno {
			return (o.kind == c.kind && o.n == c.n) || (o.kind == vScalar && !o.known() && !o.bnd() && !hasFacts(ofacts, o.id))
		}
		for _, w32 := range [2]bool{false, true} {
			or := rangeOf(o, ofacts, w32, ne)
			cr := rangeOf(c, cfacts, w32, ne)
			if !or.contains(cr) {
				return false
			}
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
