// SPDX-License-Identifier: Apache-2.0

package spinlock

import (
	"math/bits"

	"github.com/cilium/ebpf/asm"
)

// The state of one path: its call frames (registers and stack), the locks it holds, and
// what it learnt from branches it could not decide.

const (
	stackSlots = 64 // 512 bytes of stack in 8-byte slots
	maxFrames  = 8  // MAX_CALL_FRAMES
	maxFacts   = 8
)

// frame is one function's registers and stack. The stack is sparse: used has a bit per
// 8-byte slot holding a value, and slots holds those values in slot order, so that a
// state is cheap to copy at every branch.
type frame struct {
	regs  [11]value
	used  uint64
	slots []value
	ret   int // index to resume at in the caller (-1: a root)
	fn    int // index of the function's first instruction
}

// slot returns the value in stack slot s (0 is fp-8).
func (f *frame) slot(s int) value {
	bit := uint64(1) << s
	if f.used&bit == 0 {
		return value{}
	}
	return f.slots[bits.OnesCount64(f.used&(bit-1))]
}

// setSlot stores v in slot s; storing vNone frees the slot.
func (f *frame) setSlot(s int, v value) {
	bit := uint64(1) << s
	i := bits.OnesCount64(f.used & (bit - 1))
	switch {
	case f.used&bit != 0 && v.kind == vNone:
		f.slots = append(f.slots[:i:i], f.slots[i+1:]...)
		f.used &^= bit
	case f.used&bit != 0:
		f.slots[i] = v
	case v.kind != vNone:
		f.slots = append(f.slots[:i:i], append([]value{v}, f.slots[i:]...)...)
		f.used |= bit
	}
}

// stackSlot turns an offset from r10 into a slot index.
func stackSlot(off int64) (int, bool) {
	if off >= 0 || off < -stackSlots*8 || off%8 != 0 {
		return 0, false
	}
	return int(-off/8) - 1, true
}

// lockKind is the verifier's reference type of a held lock.
type lockKind uint8

const (
	lockSpin   lockKind = iota // bpf_spin_lock (REF_TYPE_LOCK)
	lockRes                    // bpf_res_spin_lock (REF_TYPE_RES_LOCK)
	lockResIRQ                 // bpf_res_spin_lock_irqsave (REF_TYPE_RES_LOCK_IRQ)
)

// heldLock is a lock a path holds. The kernel tells locks apart by (class, id): class is
// the map (an inner map's template for all its inner maps), or one class for every
// allocated object; id the lookup or object.
type heldLock struct {
	kind  lockKind
	home  int32 // where the lock lives (checker.homes)
	class int32
	id    int32
	off   int64
	at    int32 // the instruction that took it
	// irqsave: the stack slot (frame, slot) holding the saved flags.
	flagFrame int8
	flagSlot  int8
	// cb: the caller's lock an rbtree less() callback runs under.
	cb bool
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
	locks  []heldLock // in the order taken; the last is the one the kernel calls active
	facts  []fact
	// uncertain says why the kernel may not walk this path as the check does: a branch
	// correlated with an earlier one. Findings on such paths are warnings.
	uncertain uint8
	nextID    int32
	// line and prevLine are the last two distinct source lines the path ran (instruction
	// indexes), so that an exit can be blamed on the return that reached it.
	line, prevLine int32
	// steps and jumps since the path last left a state at a prune point (the verifier
	// leaves one only every 8 instructions and 2 jumps).
	stepsSince, jumpsSince uint16
	// node is the last state this path left at a prune point (see ckpt).
	node *ckpt
	// loops holds, per may_goto instruction this path passed, the state that entered
	// the loop's body last time (read-only, shared between clones): the next pass widens
	// against it (see walker.mayGoto).
	loops []loopEntry
}

// loopEntry is the state a path had when it last entered a may_goto loop's body.
type loopEntry struct {
	idx int
	st  *state
}

// ckpt is a state kept at a prune point, as a node of the tree of paths: branches counts
// the paths and child nodes below it still being walked. At zero its subtree is
// complete, and the precision marks its paths set are final (the verifier's branches).
type ckpt struct {
	parent   *ckpt
	branches int32
}

func (s *state) clone() *state {
	c := &state{uncertain: s.uncertain, nextID: s.nextID, line: s.line, prevLine: s.prevLine,
		stepsSince: s.stepsSince, jumpsSince: s.jumpsSince, node: s.node, loops: s.loops}
	c.frames = make([]frame, len(s.frames), len(s.frames)+1)
	for i := range s.frames {
		c.frames[i] = s.frames[i]
		c.frames[i].slots = append([]value(nil), s.frames[i].slots...)
	}
	if len(s.locks) > 0 {
		c.locks = append([]heldLock(nil), s.locks...)
	}
	if len(s.facts) > 0 {
		c.facts = append([]fact(nil), s.facts...)
	}
	return c
}

func (s *state) cur() *frame { return &s.frames[len(s.frames)-1] }

// newID returns a fresh identity.
func (s *state) newID() int32 {
	s.nextID++
	return s.nextID
}

// locked reports whether any lock is held.
func (s *state) locked() bool { return len(s.locks) > 0 }

// spinLock returns the held bpf_spin_lock, if any.
func (s *state) spinLock() (heldLock, bool) {
	for _, l := range s.locks {
		if l.kind == lockSpin {
			return l, true
		}
	}
	return heldLock{}, false
}

// forEachValue calls f on every register and stack slot of every frame.
func (s *state) forEachValue(f func(*value)) {
	for i := range s.frames {
		fr := &s.frames[i]
		for r := range fr.regs {
			f(&fr.regs[r])
		}
		for k := range fr.slots {
			f(&fr.slots[k])
		}
	}
}

func (s *state) setUncertain(why uint8) {
	if s.uncertain == 0 {
		s.uncertain = why
	}
}

const uncertainCorrelated = 1
