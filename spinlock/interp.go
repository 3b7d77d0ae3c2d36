package spinlock

import (
	"encoding/binary"
	"fmt"
	"hash/maphash"

	"github.com/cilium/ebpf/asm"
)

// The instruction-level rules (I1–I9, and M/G rules at the call that locks) come from an
// abstract interpreter that walks every path of a program the way the verifier does:
// fall-through first, the other side of a branch later; into static subprograms with the
// caller's state; over global subprograms, which it checks on their own. It tracks, per
// register and 8-byte stack slot, just enough to know which lock a bpf_spin_lock call
// takes: pointers to map values (which map, which lookup), map pointers, stack pointers
// and scalar constants.

type vkind uint8

const (
	vNone       vkind = iota // not initialised
	vScalar                  // a number; known: n is its value
	vCtx                     // the context pointer
	vStack                   // pointer into frame's stack; known: n is the offset from r10
	vMapPtr                  // ld_imm64 of a map: CONST_PTR_TO_MAP
	vMapVal                  // pointer into a map value; known: n is the offset
	vMapValNull              // bpf_map_lookup_elem result before its NULL check
	vPtr                     // another pointer the check does not follow
)

type value struct {
	kind  vkind
	known bool
	bnd   bool // vScalar: max bounds its unsigned value
	max   uint64
	frame int8
	n     int64
	m     int32 // map index (vMapPtr, vMapVal, vMapValNull)
	id    int32 // vMapVal*: which lookup (lock identity); vScalar: value id for branch correlation
}

func scalar() value          { return value{kind: vScalar} }
func constant(n int64) value { return value{kind: vScalar, known: true, n: n} }
func (v value) nonNullPtr() bool {
	return v.kind == vCtx || v.kind == vStack || v.kind == vMapPtr || v.kind == vMapVal
}

const (
	stackSlots   = 64 // 512 bytes of stack in 8-byte slots
	maxFrames    = 8  // MAX_CALL_FRAMES
	maxFacts     = 8
	stateCap     = 24 // distinct states per join instruction before widening
	dropCap      = 4 * stateCap
	stepBudget   = 400000 // instructions simulated per program
	noInsn       = -1
	unknownLock  = -1
	rootMain     = 0
	rootGlobal   = 1
	rootCallback = 2
)

type frame struct {
	regs  [11]value
	stack [stackSlots]value
	ret   int // index to resume at in the caller
	fn    int // index of the function's first instruction
}

// lockState is the lock held, if any: which map, which lookup, which offset.
type lockState struct {
	on  bool
	m   int32 // unknownLock: a lock the check could not identify
	id  int32
	off int64
	at  int // index of the bpf_spin_lock call
}

// fact records the outcome of a branch on a scalar the check could not decide, so that
// a later branch on the same value can be recognised as correlated.
type fact struct {
	id    int32
	op    asm.JumpOp
	w32   bool
	c     int64
	taken bool
}

type state struct {
	frames []frame
	lock   lockState
	// uncertain says why the kernel may not walk this path as the check does: a branch
	// correlated with an earlier one (uncertainCorrelated), or constants forgotten to
	// end a loop (uncertainLoop). Findings on such paths are warnings.
	uncertain uint8
	facts     []fact
}

func (s *state) clone() *state {
	c := &state{lock: s.lock, uncertain: s.uncertain}
	c.frames = append(make([]frame, 0, len(s.frames)+1), s.frames...)
	c.facts = append([]fact(nil), s.facts...)
	return c
}

func (s *state) cur() *frame { return &s.frames[len(s.frames)-1] }

// forEachValue calls f on every register and stack slot of every frame.
func (s *state) forEachValue(f func(*value)) {
	for i := range s.frames {
		fr := &s.frames[i]
		for r := range fr.regs {
			f(&fr.regs[r])
		}
		for k := range fr.stack {
			f(&fr.stack[k])
		}
	}
}

type workItem struct {
	idx int
	st  *state
}

// walker interprets one program.
type walker struct {
	c       *checker
	p       *progInfo
	seed    maphash.Seed
	visited map[uint64]struct{}
	visits  []int
	steps   int
	buf     []byte
	work    []workItem
	stopped bool
}

func newWalker(c *checker, p *progInfo) *walker {
	return &walker{
		c:       c,
		p:       p,
		seed:    maphash.MakeSeed(),
		visited: make(map[uint64]struct{}),
		visits:  make([]int, len(p.insns)),
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
		w.walkRoot(r, rootCallback)
	}
	if w.stopped {
		w.c.note(fmt.Sprintf("program %q: path analysis stopped after %d instructions; findings may be incomplete", w.p.name, w.steps))
	}
}

func (w *walker) walkRoot(start, kind int) {
	st := &state{frames: make([]frame, 1, maxFrames)}
	fr := &st.frames[0]
	fr.fn, fr.ret = start, -1
	if kind == rootMain {
		fr.regs[asm.R1] = value{kind: vCtx}
	} else {
		for r := asm.R1; r <= asm.R5; r++ {
			fr.regs[r] = value{kind: vPtr}
		}
	}
	fr.regs[asm.R10] = value{kind: vStack, known: true, frame: 0}
	w.work = append(w.work[:0], workItem{start, st})
	for len(w.work) > 0 {
		if w.steps >= stepBudget {
			w.stopped = true
			return
		}
		it := w.work[len(w.work)-1]
		w.work = w.work[:len(w.work)-1]
		w.path(it.idx, it.st, kind)
	}
}

// path runs one path until it exits, fails or joins a state already seen.
func (w *walker) path(idx int, st *state, kind int) {
	p := w.p
	for {
		if idx < 0 || idx >= len(p.insns) {
			return
		}
		if p.join[idx] {
			w.visits[idx]++
			if w.visits[idx] > dropCap {
				w.stopped = true
				return
			}
			if w.visits[idx] > stateCap {
				widen(st)
				st.setUncertain(uncertainLoop)
			}
			h := w.hash(idx, st)
			if _, ok := w.visited[h]; ok {
				return
			}
			w.visited[h] = struct{}{}
		}
		w.steps++
		if w.steps > stepBudget {
			w.stopped = true
			return
		}
		next, ok := w.step(idx, st, kind)
		if !ok {
			return
		}
		idx = next
	}
}

// widen forgets constants and correlations so that loops converge.
func widen(st *state) {
	st.facts = st.facts[:0]
	st.forEachValue(func(v *value) {
		if v.kind == vScalar {
			*v = scalar()
		}
		if v.kind == vStack && !v.known {
			v.n = 0
		}
	})
}

func (w *walker) hash(idx int, st *state) uint64 {
	b := w.buf[:0]
	b = binary.LittleEndian.AppendUint32(b, uint32(idx))
	b = append(b, st.uncertain)
	l := st.lock
	if l.on {
		b = append(b, 2)
		b = binary.LittleEndian.AppendUint32(b, uint32(l.m))
		b = binary.LittleEndian.AppendUint32(b, uint32(l.id))
		b = binary.LittleEndian.AppendUint64(b, uint64(l.off))
	}
	for _, f := range st.facts {
		b = binary.LittleEndian.AppendUint32(b, uint32(f.id))
		b = append(b, byte(f.op), boolByte(f.w32), boolByte(f.taken))
		b = binary.LittleEndian.AppendUint64(b, uint64(f.c))
	}
	appendValue := func(v value) {
		b = append(b, byte(v.kind))
		if v.kind == vNone {
			return
		}
		b = append(b, boolByte(v.known), byte(v.frame), boolByte(v.bnd))
		if v.bnd {
			b = binary.LittleEndian.AppendUint64(b, v.max)
		}
		b = binary.LittleEndian.AppendUint64(b, uint64(v.n))
		b = binary.LittleEndian.AppendUint32(b, uint32(v.m))
		b = binary.LittleEndian.AppendUint32(b, uint32(v.id))
	}
	for i := range st.frames {
		fr := &st.frames[i]
		b = binary.LittleEndian.AppendUint32(b, uint32(fr.ret))
		for _, v := range fr.regs {
			appendValue(v)
		}
		for _, v := range fr.stack {
			appendValue(v)
		}
	}
	w.buf = b
	return maphash.Bytes(w.seed, b)
}

func boolByte(b bool) byte {
	if b {
		return 1
	}
	return 0
}

// define gives a freshly computed scalar the id of the instruction that made it, and
// drops what was known of an older value with that id.
func define(st *state, idx int) value {
	id := int32(idx + 1)
	st.forEachValue(func(v *value) {
		if v.kind == vScalar && v.id == id {
			v.id = 0
		}
	})
	kept := st.facts[:0]
	for _, f := range st.facts {
		if f.id != id {
			kept = append(kept, f)
		}
	}
	st.facts = kept
	return value{kind: vScalar, id: id}
}

// step interprets the instruction at idx; it returns the next index, or false when the
// path ends (exit of the root, an error the kernel would stop at, a malformed program).
func (w *walker) step(idx int, st *state, kind int) (int, bool) {
	ins := &w.p.insns[idx]
	fr := st.cur()
	op := ins.OpCode
	if ins.Dst > asm.R10 || ins.Src > asm.R10 {
		return 0, false
	}
	switch cls := op.Class(); {
	case op.IsDWordLoad():
		fr.regs[ins.Dst] = w.loadImm64(idx, ins)
		return idx + 1, true

	case cls == asm.LdClass: // LD_ABS / LD_IND
		if st.lock.on {
			w.report(st, idx, RuleI7, nil, fmt.Sprintf("%s uses a legacy packet load (BPF_LD_ABS/BPF_LD_IND) while holding %s", w.p.label(), w.lockName(st.lock)),
				"Read the packet with bpf_skb_load_bytes or direct packet access before taking the lock.")
			return 0, false
		}
		for r := asm.R1; r <= asm.R5; r++ {
			fr.regs[r] = value{}
		}
		fr.regs[asm.R0] = define(st, idx)
		return idx + 1, true

	case cls == asm.LdXClass:
		if !w.access(st, idx, fr.regs[ins.Src], int64(ins.Offset), ins.OpCode.Size().Sizeof(), "reads") {
			return 0, false
		}
		v := define(st, idx)
		if op.Mode() == asm.MemMode {
			switch op.Size() {
			case asm.Byte:
				v.bnd, v.max = true, 0xff
			case asm.Half:
				v.bnd, v.max = true, 0xffff
			case asm.Word:
				v.bnd, v.max = true, 0xffffffff
			}
		}
		if src := fr.regs[ins.Src]; src.kind == vStack && src.known && int(src.frame) < len(st.frames) && op.Size() == asm.DWord && op.Mode() == asm.MemMode {
			if s, ok := stackSlot(src.n + int64(ins.Offset)); ok {
				if sv := st.frames[src.frame].stack[s]; sv.kind != vNone {
					v = sv
				}
			}
		}
		fr.regs[ins.Dst] = v
		return idx + 1, true

	case cls == asm.StClass || cls == asm.StXClass:
		dst := fr.regs[ins.Dst]
		size := ins.OpCode.Size().Sizeof()
		if !w.access(st, idx, dst, int64(ins.Offset), size, "writes") {
			return 0, false
		}
		if dst.kind == vStack && dst.known && int(dst.frame) < len(st.frames) {
			off := dst.n + int64(ins.Offset)
			stack := &st.frames[dst.frame].stack
			stored := value{kind: vScalar}
			if cls == asm.StXClass && op.Mode() == asm.MemMode {
				stored = fr.regs[ins.Src]
			} else if cls == asm.StClass {
				stored = constant(ins.Constant)
			}
			if s, ok := stackSlot(off); ok && size == 8 && op.Mode() == asm.MemMode {
				stack[s] = stored
			} else {
				for o := off; o < off+int64(size); o++ {
					if s, ok := stackSlot(o &^ 7); ok {
						stack[s] = scalar()
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
			return w.call(idx, st, kind)
		case asm.Exit:
			return w.exit(idx, st, kind)
		case asm.Ja:
			off := int64(ins.Offset)
			if cls == asm.Jump32Class {
				off = ins.Constant
			}
			t, ok := w.p.target(idx, off)
			return t, ok
		case asm.JCOND:
			// may_goto: either side.
			if t, ok := w.p.target(idx, int64(ins.Offset)); ok {
				w.work = append(w.work, workItem{t, st.clone()})
			}
			return idx + 1, true
		default:
			return w.cond(idx, st, ins)
		}
	}
	return 0, false
}

// loadImm64 is the value of an ld_imm64.
func (w *walker) loadImm64(idx int, ins *asm.Instruction) value {
	switch ins.Src {
	case asm.PseudoMapFD:
		if m, ok := w.c.mapIndex[ins.Reference()]; ok {
			return value{kind: vMapPtr, m: int32(m)}
		}
		return value{kind: vPtr}
	case asm.PseudoMapValue:
		m, ok := w.c.mapIndex[ins.Reference()]
		if !ok {
			return value{kind: vPtr}
		}
		v := value{kind: vMapVal, m: int32(m), known: true, n: int64(uint64(ins.Constant) >> 32)}
		// 6.1 gives each such load of a lock-holding map a fresh id (G1).
		if w.c.kernel.Before(6, 2) && w.c.view(m).lock != nil {
			v.id = int32(idx + 1)
		}
		return v
	case 0:
		return constant(ins.Constant)
	}
	return value{kind: vPtr}
}

func stackSlot(off int64) (int, bool) {
	if off >= 0 || off < -stackSlots*8 || off%8 != 0 {
		return 0, false
	}
	return int(-off/8) - 1, true
}

// access checks a load or store through ptr+off of size bytes against the lock word (I9).
func (w *walker) access(st *state, idx int, ptr value, off int64, size int, verb string) bool {
	if ptr.kind != vMapVal || !ptr.known || size <= 0 {
		return true
	}
	lv := w.c.view(int(ptr.m))
	if lv.lock == nil {
		return true
	}
	start := ptr.n + off
	lo := int64(lv.lock.off)
	if start < lo+4 && lo < start+int64(size) {
		m := w.c.maps[ptr.m]
		w.report(st, idx, RuleI9, m, fmt.Sprintf("%s %s %d byte(s) at offset %d of %s, overlapping its bpf_spin_lock %s (offset %d)",
			w.p.label(), verb, size, start, m.describe(), lv.lock.path, lo),
			"Never read or write the lock word: only bpf_spin_lock/bpf_spin_unlock may touch it (user space uses BPF_F_LOCK).")
		return false
	}
	return true
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
	switch {
	case aluOp == asm.Mov && ins.Offset == 0:
		if is64 {
			*dst = src
			return
		}
		if src.kind == vScalar && src.known {
			*dst = constant(int64(uint32(src.n)))
			return
		}
		*dst = define(st, idx)
		return
	case (aluOp == asm.Add || aluOp == asm.Sub) && is64 && isPtr(dst.kind) && src.kind == vScalar:
		if !dst.known || !src.known {
			dst.known, dst.n = false, 0
			return
		}
		if aluOp == asm.Add {
			dst.n += src.n
		} else {
			dst.n -= src.n
		}
		return
	case dst.kind == vScalar && dst.known && src.kind == vScalar && src.known:
		if r, ok := evalALU(aluOp, dst.n, src.n, is64); ok && ins.Offset == 0 {
			*dst = constant(r)
			return
		}
	case aluOp == asm.Neg && dst.kind == vScalar && dst.known && ins.Offset == 0:
		r := -dst.n
		if !is64 {
			r = int64(uint32(r))
		}
		*dst = constant(r)
		return
	}
	old := *dst
	res := define(st, idx)
	// Upper bounds the kernel also knows, enough to turn "x & 1 != 0" into x == 1.
	if old.kind == vScalar && src.kind == vScalar && src.known && ins.Offset == 0 {
		c := uint64(src.n)
		if !is64 {
			c = uint64(uint32(src.n))
		}
		switch aluOp {
		case asm.And:
			if is64 && src.n < 0 {
				break
			}
			res.bnd, res.max = true, c
			if old.bnd && old.max < c {
				res.max = old.max
			}
		case asm.RSh:
			k := c & 63
			if !is64 {
				k = c & 31
			}
			res.bnd, res.max = true, ^uint64(0)>>k
			if old.bnd {
				res.max = min(res.max, old.max>>k)
			}
		case asm.LSh:
			k := c & 63
			if is64 && old.bnd && k < 64 && old.max <= ^uint64(0)>>k {
				res.bnd, res.max = true, old.max<<k
			}
		case asm.Mod:
			if c > 0 {
				res.bnd, res.max = true, c-1
			}
		}
	}
	if !is64 && (!res.bnd || res.max > 0xffffffff) {
		res.bnd, res.max = true, 0xffffffff
	}
	*dst = res
}

func isPtr(k vkind) bool { return k == vStack || k == vMapVal || k == vCtx || k == vPtr }

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

// outcome of a branch.
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

	// Exact outcomes, as the kernel computes them.
	switch {
	case a.kind == vScalar && a.known && b.kind == vScalar && b.known:
		if compare(op, a.n, b.n, w32) {
			return target, true
		}
		return idx + 1, true
	case a.nonNullPtr() && b.kind == vScalar && b.known && b.n == 0 && (op == asm.JEq || op == asm.JNE):
		if op == asm.JNE {
			return target, true
		}
		return idx + 1, true
	case a.kind == vMapValNull && b.kind == vScalar && b.known && b.n == 0 && (op == asm.JEq || op == asm.JNE) && !w32:
		null, notNull := st.clone(), st.clone()
		markNull(null, a, true)
		markNull(notNull, a, false)
		if op == asm.JEq {
			w.work = append(w.work, workItem{target, null})
			*st = *notNull
		} else {
			w.work = append(w.work, workItem{target, notNull})
			*st = *null
		}
		return idx + 1, true
	}

	if a.kind == vScalar && !a.known && a.bnd && b.kind == vScalar && b.known && (a.max <= 0xffffffff || !w32) {
		c := uint64(b.n)
		if w32 {
			c = uint64(uint32(b.n))
		}
		if c > a.max {
			switch op {
			case asm.JEq, asm.JGT, asm.JGE:
				return idx + 1, true
			case asm.JNE, asm.JLT, asm.JLE:
				return target, true
			}
		}
	}

	taken, fall := st.clone(), st
	if a.kind == vScalar && !a.known && a.bnd && a.max == 1 && b.kind == vScalar && b.known && b.n == 0 {
		// A value in [0, 1] that is not 0 is 1.
		switch op {
		case asm.JEq:
			setConst(fall, a.id, 1, false)
		case asm.JNE:
			setConst(taken, a.id, 1, false)
		}
	}
	if a.kind == vScalar && !a.known && a.id != 0 && b.kind == vScalar && b.known {
		switch decided(st.facts, a.id, op, w32, b.n) {
		case alwaysTaken:
			fall.setUncertain(uncertainCorrelated)
		case neverTaken:
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
	w.work = append(w.work, workItem{target, taken})
	return idx + 1, true
}

const (
	uncertainCorrelated = 1
	uncertainLoop       = 2
)

func (s *state) setUncertain(why uint8) {
	if s.uncertain == 0 {
		s.uncertain = why
	}
}

// intervalComplete reports whether decided's interval reasoning knew all there is to
// know about id for this branch: no earlier branch on it, or only unsigned comparisons
// of the same width, like this one. Otherwise (signed ranges, bit tests) the kernel may
// settle a branch the check cannot.
func intervalComplete(facts []fact, id int32, op asm.JumpOp, w32 bool) bool {
	unsigned := func(op asm.JumpOp) bool {
		switch op {
		case asm.JEq, asm.JNE, asm.JGT, asm.JGE, asm.JLT, asm.JLE:
			return true
		}
		return false
	}
	seen := false
	for _, f := range facts {
		if f.id != id {
			continue
		}
		seen = true
		if !unsigned(f.op) || f.w32 != w32 {
			return false
		}
	}
	return !seen || unsigned(op)
}

func markNull(st *state, ptr value, null bool) {
	st.forEachValue(func(v *value) {
		if v.kind == vMapValNull && v.m == ptr.m && v.id == ptr.id {
			if null {
				*v = constant(0)
			} else {
				v.kind = vMapVal
			}
		}
	})
}

func setConst(st *state, id int32, c int64, w32 bool) {
	if w32 {
		return // only the low 32 bits are known
	}
	st.forEachValue(func(v *value) {
		if v.kind == vScalar && v.id == id && !v.known {
			*v = value{kind: vScalar, known: true, n: c, id: id}
		}
	})
}

func addFact(st *state, f fact) {
	if len(st.facts) >= maxFacts {
		st.facts = append(st.facts[:0], st.facts[1:]...)
	}
	st.facts = append(st.facts, f)
}

// decided looks for an earlier branch on the same value that settles this one.
func decided(facts []fact, id int32, op asm.JumpOp, w32 bool, c int64) outcome {
	for i := len(facts) - 1; i >= 0; i-- {
		f := facts[i]
		if f.id != id || f.w32 != w32 {
			continue
		}
		if f.op == op && f.c == c {
			if f.taken {
				return alwaysTaken
			}
			return neverTaken
		}
		// "value != c" is known: from JNE taken or JEQ not taken.
		ne := (f.op == asm.JNE && f.taken) || (f.op == asm.JEq && !f.taken)
		if ne && f.c == c {
			switch op {
			case asm.JEq:
				return neverTaken
			case asm.JNE:
				return alwaysTaken
			}
		}
	}
	// The unsigned interval the earlier branches leave the value in.
	lo, hi := uint64(0), ^uint64(0)
	if w32 {
		hi = 0xffffffff
	}
	for _, f := range facts {
		if f.id != id || f.w32 != w32 {
			continue
		}
		fc := uint64(f.c)
		if w32 {
			fc = uint64(uint32(f.c))
		}
		op, taken := f.op, f.taken
		if !taken { // the negation of each comparison
			switch op {
			case asm.JGT:
				op = asm.JLE
			case asm.JGE:
				op = asm.JLT
			case asm.JLT:
				op = asm.JGE
			case asm.JLE:
				op = asm.JGT
			case asm.JNE:
				op = asm.JEq
			default:
				continue
			}
		}
		switch op {
		case asm.JEq:
			lo, hi = max(lo, fc), min(hi, fc)
		case asm.JGT:
			if fc < ^uint64(0) {
				lo = max(lo, fc+1)
			}
		case asm.JGE:
			lo = max(lo, fc)
		case asm.JLT:
			if fc > 0 {
				hi = min(hi, fc-1)
			}
		case asm.JLE:
			hi = min(hi, fc)
		}
	}
	if lo > hi {
		return unknownOutcome // contradictory facts: a path no kernel walks to anyway
	}
	uc := uint64(c)
	if w32 {
		uc = uint64(uint32(c))
	}
	var all, none bool // every value in [lo, hi] takes the branch / none does
	switch op {
	case asm.JEq:
		all, none = lo == hi && lo == uc, uc < lo || uc > hi
	case asm.JNE:
		all, none = uc < lo || uc > hi, lo == hi && lo == uc
	case asm.JGT:
		all, none = lo > uc, hi <= uc
	case asm.JGE:
		all, none = lo >= uc, hi < uc
	case asm.JLT:
		all, none = hi < uc, lo >= uc
	case asm.JLE:
		all, none = hi <= uc, lo > uc
	}
	switch {
	case all:
		return alwaysTaken
	case none:
		return neverTaken
	}
	return unknownOutcome
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

// Helper function IDs the interpreter knows.
const (
	fnMapLookupElem  = 1
	fnTailCall       = 12
	fnSkStorageGet   = 107
	fnSpinLock       = 93
	fnSpinUnlock     = 94
	fnInodeStorage   = 145
	fnTaskStorageGet = 156
	fnCgrpStorageGet = 210
	fnTimerInit      = 169
	fnTimerCancel    = 172
)

// timerArg checks the bpf_timer/bpf_wq argument of a timer helper or wq kfunc: in a map
// whose creation with BTF fails for the timer (M7), the kernel says the map has no BTF.
func (w *walker) timerArg(idx int, st *state, r value, fn string) bool {
	if r.kind != vMapVal {
		return true
	}
	m := w.c.maps[r.m]
	lv := w.c.view(int(r.m))
	if !lv.btfDropped || lv.dropRule != RuleM7 {
		return true
	}
	w.report(st, idx, RuleM7, m, w.c.droppedMessage(w.p.label()+" calls "+fn+" on", m, lv), w.c.droppedFix(m, lv))
	return false
}

func (w *walker) call(idx int, st *state, kind int) (int, bool) {
	ins := &w.p.insns[idx]
	fr := st.cur()
	switch {
	case ins.IsFunctionCall():
		return w.subprogCall(idx, st)
	case ins.IsKfuncCall():
		name := ins.Reference()
		switch name {
		case "bpf_wq_init", "bpf_wq_start", "bpf_wq_set_callback_impl", "bpf_wq_set_callback":
			if !w.timerArg(idx, st, fr.regs[asm.R1], name) {
				return 0, false
			}
		}
		if st.lock.on && (ins.Offset != 0 || !kfuncAllowedUnderLock(name, w.c.kernel)) {
			w.report(st, idx, RuleI1, nil, fmt.Sprintf("%s calls kfunc %s while holding %s; the %s kernel says %q",
				w.p.label(), name, w.lockName(st.lock), w.c.kernel, KernelWords(RuleI1, w.c.kernel, "")),
				"Call it after bpf_spin_unlock: only the bpf_list_*/bpf_rbtree_* graph kfuncs may run under the lock.")
			return 0, false
		}
		w.clobber(st, idx)
		return idx + 1, true
	case ins.Src != 0:
		w.clobber(st, idx)
		return idx + 1, true
	}
	fn := ins.Constant
	if st.lock.on && fn != fnSpinUnlock {
		rule, what, fix := RuleI1, "calls "+helperName(fn), "Move the call out of the locked region: copy what you need under the lock, unlock, then call."
		switch fn {
		case fnSpinLock:
			rule, what, fix = RuleI2, "takes a second bpf_spin_lock", "Release the first lock before taking another one: the kernel allows one lock at a time."
		case fnTailCall:
			rule, what, fix = RuleI8, "makes a tail call (bpf_tail_call)", "Unlock before bpf_tail_call: a tail call never returns to release the lock."
		}
		w.report(st, idx, rule, nil, fmt.Sprintf("%s %s while holding %s; the %s kernel says %q",
			w.p.label(), what, w.lockName(st.lock), w.c.kernel, KernelWords(rule, w.c.kernel, "")), fix)
		return 0, false
	}
	if fn >= fnTimerInit && fn <= fnTimerCancel && !w.timerArg(idx, st, fr.regs[asm.R1], helperName(fn)) {
		return 0, false
	}
	switch fn {
	case fnSpinLock:
		key, ok := w.lockArg(idx, st, fr.regs[asm.R1])
		if !ok {
			return 0, false
		}
		key.at = idx
		st.lock = key
	case fnSpinUnlock:
		key, ok := w.lockArg(idx, st, fr.regs[asm.R1])
		if !ok {
			return 0, false
		}
		switch {
		case !st.lock.on:
			w.report(st, idx, RuleI4, nil, fmt.Sprintf("%s calls bpf_spin_unlock on %s without holding a lock on this path; the %s kernel says %q",
				w.p.label(), w.lockName(key), w.c.kernel, wordsI4),
				"Unlock only on the paths that took the lock, once.")
			return 0, false
		case st.lock.m != unknownLock && key.m != unknownLock && (st.lock.m != key.m || st.lock.id != key.id || st.lock.off != key.off):
			rule := RuleI5
			why := ""
			if st.lock.m == key.m && st.lock.off == key.off {
				m := w.c.maps[key.m]
				if m.datasec {
					rule = RuleG1
					why = " (kernel 6.1 gives each load of a global's address a fresh identity, so the lock and the unlock must use the very same register)"
				} else {
					why = " (another lookup of the same map counts as another lock, even with the same key)"
				}
			}
			fix := "Unlock through the same pointer (register) that was locked."
			if rule == RuleG1 {
				fix = "Keep &lock in one variable used by both calls, or target kernel 6.2+ where global locks are supported."
			}
			var rm *mapInfo
			if rule == RuleG1 {
				rm = w.c.maps[key.m]
			}
			w.report(st, idx, rule, rm, fmt.Sprintf("%s unlocks %s but holds %s (locked at insn %d)%s; the %s kernel says %q",
				w.p.label(), w.lockName(key), w.lockName(st.lock), w.p.raw[st.lock.at], why, w.c.kernel, wordsI5), fix)
			return 0, false
		}
		st.lock = lockState{}
	}
	w.clobber(st, idx)
	return idx + 1, true
}

// clobber applies a helper or kfunc call's effect on registers: R1–R5 unreadable, R0 the
// result (a map value or NULL after a lookup).
func (w *walker) clobber(st *state, idx int) {
	ins := &w.p.insns[idx]
	fr := st.cur()
	r0 := define(st, idx)
	if ins.Src == 0 {
		switch ins.Constant {
		case fnMapLookupElem, fnSkStorageGet, fnInodeStorage, fnTaskStorageGet, fnCgrpStorageGet:
			if mp := fr.regs[asm.R1]; mp.kind == vMapPtr {
				r0 = value{kind: vMapValNull, m: mp.m, id: int32(idx + 1), known: true}
			}
		}
	}
	for r := asm.R1; r <= asm.R5; r++ {
		fr.regs[r] = value{}
	}
	fr.regs[asm.R0] = r0
}

// lockArg checks the argument of bpf_spin_lock/unlock the way process_spin_lock does and
// returns which lock it names. It reports and returns false when the kernel would stop.
func (w *walker) lockArg(idx int, st *state, r value) (lockState, bool) {
	if typ := argTypeName(r); typ != "" {
		fn := "bpf_spin_lock"
		if w.p.insns[idx].Constant == fnSpinUnlock {
			fn = "bpf_spin_unlock"
		}
		words := "R1 type=" + typ + " expected=map_value, ptr_"
		w.report(st, idx, RuleI3, nil, fmt.Sprintf("%s calls %s on a %s, not on a lock inside a map value; the %s kernel says %q",
			w.p.label(), fn, argKindName(r), w.c.kernel, words),
			"Put the struct bpf_spin_lock in a map value (or a global in .bss/.data on 6.2+) and pass its address.")
		return lockState{}, false
	}
	if r.kind != vMapVal {
		// Not a map value the check follows (an allocated object, an argument of a
		// global function …): some lock, the check cannot say which.
		return lockState{on: true, m: unknownLock}, true
	}
	m := w.c.maps[r.m]
	lv := w.c.view(int(r.m))
	name := w.c.kernelMapName(m)
	fn := "bpf_spin_lock"
	if w.p.insns[idx].Constant == fnSpinUnlock {
		fn = "bpf_spin_unlock"
	}
	switch {
	case !m.hasBTF:
		w.report(st, idx, RuleM1, m, fmt.Sprintf("%s calls %s on %s, which has no BTF for its value (a legacy map definition); the %s kernel says %q",
			w.p.label(), fn, m.describe(), w.c.kernel, KernelWords(RuleM1, w.c.kernel, name)),
			"Define the map in SEC(\".maps\") with __type(value, …) so that it carries BTF.")
		return lockState{}, false
	case lv.btfDropped:
		w.report(st, idx, lv.dropRule, m, w.c.droppedMessage(w.p.label()+" calls "+fn+" on", m, lv), w.c.droppedFix(m, lv))
		return lockState{}, false
	case lv.lock == nil && lv.lockRule != "":
		w.report(st, idx, lv.lockRule, m, w.c.invalidMessage(w.p.label()+" calls "+fn+" on", m, lv), w.c.invalidFix(lv))
		return lockState{}, false
	case lv.lock == nil:
		words := fmt.Sprintf(wordsNoValid, name)
		if w.c.kernel.Before(6, 2) {
			words = fmt.Sprintf(wordsNoLock61, name)
		}
		w.report(st, idx, RuleI3, m, fmt.Sprintf("%s calls %s on %s, whose value holds no bpf_spin_lock; the %s kernel says %q",
			w.p.label(), fn, m.describe(), w.c.kernel, words),
			"Pass the address of the struct bpf_spin_lock member of the map value.")
		return lockState{}, false
	case !r.known:
		w.report(st, idx, RuleI3, m, fmt.Sprintf("%s calls %s on %s at a variable offset; the %s kernel says %q",
			w.p.label(), fn, m.describe(), w.c.kernel, wordsI3Var),
			"Pass &value->lock directly, not a pointer computed with a variable index.")
		return lockState{}, false
	case r.n != int64(lv.lock.off):
		w.report(st, idx, RuleI3, m, fmt.Sprintf("%s calls %s on offset %d of %s, but its bpf_spin_lock %s is at offset %d; the %s kernel says %q",
			w.p.label(), fn, r.n, m.describe(), lv.lock.path, lv.lock.off, w.c.kernel, fmt.Sprintf(wordsI3Off, r.n, lv.lock.off)),
			"Pass the address of the struct bpf_spin_lock member itself.")
		return lockState{}, false
	}
	return lockState{on: true, m: r.m, id: r.id, off: r.n}, true
}

func (w *walker) subprogCall(idx int, st *state) (int, bool) {
	ins := &w.p.insns[idx]
	target, ok := w.p.funcStart[ins.Reference()]
	if !ok {
		return 0, false
	}
	global := w.p.global[target]
	if st.lock.on && (global || w.c.kernel.Before(6, 9)) {
		rule := RuleI1
		fix := "Call the function after bpf_spin_unlock (kernels before 6.9 allow no calls at all under the lock)."
		if global {
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
		w.report(st, idx, rule, nil, fmt.Sprintf("%s calls %s function %s while holding %s; the %s kernel says %q",
			w.p.label(), kind, ins.Reference(), w.lockName(st.lock), w.c.kernel, KernelWords(rule, w.c.kernel, "")), fix)
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
	callee.regs[asm.R10] = value{kind: vStack, known: true, frame: int8(len(st.frames))}
	st.frames = append(st.frames, callee)
	return target, true
}

func (w *walker) exit(idx int, st *state, kind int) (int, bool) {
	sub := len(st.frames) > 1 || kind == rootCallback
	if st.lock.on && kind == rootCallback && len(st.frames) == 1 && w.c.kernel.AtLeast(6, 9) {
		// The helper calls the callback again, with the lock still held: walk it once
		// more in that state (the kernel verifies callbacks iteratively).
		next := &state{frames: make([]frame, 1, maxFrames), lock: st.lock, uncertain: st.uncertain}
		fn := st.frames[0].fn
		next.frames[0] = frame{fn: fn, ret: -1}
		for r := asm.R1; r <= asm.R5; r++ {
			next.frames[0].regs[r] = value{kind: vPtr}
		}
		next.frames[0].regs[asm.R10] = value{kind: vStack, known: true}
		w.work = append(w.work, workItem{fn, next})
		return 0, false
	}
	if st.lock.on {
		switch {
		case sub && w.c.kernel.Before(6, 9):
			w.report(st, idx, RuleI6, nil, fmt.Sprintf("%s: subprogram %s returns while holding %s (locked at insn %d); the %s kernel says %q",
				w.p.label(), w.p.funcName[st.cur().fn], w.lockName(st.lock), w.p.raw[st.lock.at], w.c.kernel, wordsI6),
				"Unlock before returning: kernels before 6.9 do not let a subprogram return with the lock held.")
			return 0, false
		case !sub:
			rule := RuleI6
			if w.c.kernel.AtLeast(6, 13) {
				rule = RuleI6b
			}
			who := w.p.label() + " can reach its exit"
			if kind == rootGlobal {
				who = fmt.Sprintf("%s: global function %s, which the kernel verifies on its own, can return", w.p.label(), w.p.funcName[st.cur().fn])
			}
			w.report(st, idx, rule, nil, fmt.Sprintf("%s while holding %s (locked at insn %d); the %s kernel says %q",
				who, w.lockName(st.lock), w.p.raw[st.lock.at], w.c.kernel, KernelWords(rule, w.c.kernel, "")),
				"Call bpf_spin_unlock on every path before returning, including early returns.")
			return 0, false
		}
	}
	if len(st.frames) == 1 {
		return 0, false
	}
	callee := st.cur()
	r0 := callee.regs[asm.R0]
	if r0.kind != vScalar {
		r0 = scalar()
	}
	ret := callee.ret
	st.frames = st.frames[:len(st.frames)-1]
	// Pointers into the dead frame's stack are gone.
	dead := int8(len(st.frames))
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

// lockName describes a held lock for messages.
func (w *walker) lockName(l lockState) string {
	if l.m == unknownLock || int(l.m) >= len(w.c.maps) {
		return "a bpf_spin_lock"
	}
	m := w.c.maps[l.m]
	if m.datasec {
		if v, ok := m.varNames[uint32(l.off)]; ok {
			return fmt.Sprintf("the global lock %q in %q", v, m.name)
		}
		return fmt.Sprintf("the global lock in %q", m.name)
	}
	if l.id > 0 && int(l.id-1) < len(w.p.raw) {
		return fmt.Sprintf("the lock of a %q value (looked up at insn %d)", m.name, w.p.raw[l.id-1])
	}
	return fmt.Sprintf("the lock of a %q value", m.name)
}

func (w *walker) report(st *state, idx int, rule string, m *mapInfo, msg, fix string) {
	f := Finding{
		Rule:     rule,
		Severity: SeverityError,
		Program:  w.p.name,
		Section:  w.p.section,
		Insn:     w.p.raw[idx],
		Message:  msg,
		Fix:      fix,
	}
	if m != nil {
		f.Map = m.name
	} else if st.lock.on && st.lock.m != unknownLock && int(st.lock.m) < len(w.c.maps) {
		f.Map = w.c.maps[st.lock.m].name
	}
	f.File, f.Line = w.p.lineOf(idx)
	switch st.uncertain {
	case uncertainCorrelated:
		f.Severity = SeverityWarning
		f.Message = "the kernel may refuse this program, depending on whether it sees two branches as correlated: " + f.Message
	case uncertainLoop:
		f.Severity = SeverityWarning
		f.Message = "the kernel may refuse this program, depending on how many rounds of a loop it walks: " + f.Message
	}
	w.c.add(f)
	if m != nil {
		w.c.reportedAtCall[m.name] = true
	}
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

// kfuncAllowedUnderLock lists the kfuncs the kernel lets a program call while it holds a
// bpf_spin_lock (kfunc_spin_allowed), by the version that allowed them.
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

// argTypeName is the verifier's name of a register type that can never be a lock
// argument, or "" when the value may be one (or the check does not know).
func argTypeName(r value) string {
	switch r.kind {
	case vStack:
		return "fp"
	case vCtx:
		return "ctx"
	case vMapPtr:
		return "map_ptr"
	case vMapValNull:
		return "map_value_or_null"
	}
	return ""
}

func argKindName(r value) string {
	switch r.kind {
	case vStack:
		return "stack variable"
	case vCtx:
		return "context pointer"
	case vMapPtr:
		return "map (not one of its values)"
	case vMapValNull:
		return "map value that may be NULL (check the lookup's result first)"
	}
	return "value"
}
