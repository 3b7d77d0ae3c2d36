// SPDX-License-Identifier: Apache-2.0

package spinlock

// The instruction-level rules (I, H, R, and the M/G rules at the call that locks) come
// from an abstract interpreter that walks every path of a program the way the verifier
// does. This file holds what it knows of one register or stack slot: just enough to know
// which lock a call takes, which lock guards a list, and which branches are decided.

// vkind is the kind of an abstract value: the verifier's register types, reduced to the
// ones a lock rule can depend on.
type vkind uint8

const (
	vNone       vkind = iota // not initialised
	vScalar                  // a number; known: n is its value; bnd: n is its unsigned maximum
	vErrno                   // a failed bpf_res_spin_lock's result e in [-4095, -1]; n says how it was extended (errno*)
	vCtx                     // the context pointer
	vStack                   // pointer into frame's stack; known: n is the offset from r10
	vMapPtr                  // a map (ld_imm64 of a map, or an inner map after its NULL check)
	vMapPtrNull              // an inner map from a map-of-maps lookup, before its NULL check
	vMapVal                  // pointer into a map value (or global data); known: n is the offset
	vMapValNull              // a map lookup's result before its NULL check
	vObj                     // pointer into an allocated object (bpf_obj_new, kptr, graph node)
	vObjNull                 // the same before its NULL check
	vPtr                     // another pointer the check does not follow
	vPtrNull                 // another pointer that may be NULL
	vFunc                    // a static function's address (a callback): n is its first instruction
)

// value is one register or stack slot.
type value struct {
	kind  vkind
	flags uint8
	frame int8  // vStack: whose stack
	home  int32 // vMapPtr*, vMapVal*, vObj*: index into checker.homes
	// id is the identity the verifier gives pointers (each lookup, each object its own,
	// which is what tells two locks apart) and scalars (two registers holding the same
	// value learn together from a branch). 0: none.
	id int32
	// at is where the value was made (instruction index + 1; 0: unknown): for a pointer,
	// its identity (for messages); for a scalar, its origin, which the walk marks precise
	// when a decision depends on it (see walker.markPrecise).
	at int32
	n  int64
}

const (
	fKnown = 1 << iota // scalar: n is the value; pointer: n is the offset
	fBnd               // scalar, not known: n is an unsigned upper bound
	fRCU               // vPtr, vPtrNull: a kptr read in place (the verifier's rcu_ptr_)
	fBTF               // vPtr, vPtrNull: a kernel object a kfunc returned (PTR_TO_BTF_ID)
	fSure              // vScalar: certainly a number, never a pointer the check does not follow
)

func (v value) known() bool { return v.flags&fKnown != 0 }
func (v value) bnd() bool   { return v.flags&fBnd != 0 }

// max is an unknown scalar's unsigned upper bound (valid when bnd()).
func (v value) max() uint64 { return uint64(v.n) }

// How a failed res lock's result e was moved on: clang zero- or sign-extends an int
// result with shifts before comparing it.
const (
	errnoS64   = iota // e as a 64-bit signed number
	errnoZext         // uint32(e), zero-extended
	errnoShl32        // e << 32
)

// errnoAt is the number a vErrno value holds for result e.
func errnoAt(variant int64, e int64) int64 {
	switch variant {
	case errnoZext:
		return int64(uint32(e))
	case errnoShl32:
		return e << 32
	}
	return e
}

func scalar() value          { return value{kind: vScalar} }
func constant(n int64) value { return value{kind: vScalar, flags: fKnown, n: n} }

// isScalar: a number of any kind.
func (v value) isScalar() bool { return v.kind == vScalar || v.kind == vErrno }

// nonNullPtr: a pointer the verifier knows is not NULL.
func (v value) nonNullPtr() bool {
	switch v.kind {
	case vCtx, vStack, vMapPtr, vMapVal, vObj, vPtr, vFunc:
		return true
	}
	return false
}

// maybeNull: a pointer before its NULL check.
func (v value) maybeNull() bool {
	switch v.kind {
	case vMapPtrNull, vMapValNull, vObjNull, vPtrNull:
		return true
	}
	return false
}

// notNull is the kind a maybe-NULL pointer has after its NULL check.
func notNull(k vkind) vkind {
	switch k {
	case vMapPtrNull:
		return vMapPtr
	case vMapValNull:
		return vMapVal
	case vObjNull:
		return vObj
	case vPtrNull:
		return vPtr
	}
	return k
}

func isPtr(k vkind) bool {
	switch k {
	case vCtx, vStack, vMapVal, vObj, vPtr:
		return true
	}
	return false
}
