package maps

import (
	"reflect"
	"unsafe"

	"golang.org/x/sys/unix"
)

// fifo is the core of Queue and Stack: maps without keys whose values are pushed, popped
// and peeked (kernel 4.20+).
type fifo[V any] struct {
	handle
}

func newFIFO[V any](m Map, accessor string, t Type) (fifo[V], error) {
	h, err := newHandle(m, accessor, t)
	if err != nil {
		return fifo[V]{}, err
	}
	if err := h.checkKV(nil, reflect.TypeFor[V]()); err != nil {
		return fifo[V]{}, err
	}
	return fifo[V]{h}, nil
}

// Push adds value. When the map is full it fails with E2BIG, unless flags is UpdateExist:
// then the oldest value is dropped to make room.
func (q *fifo[V]) Push(value V, flags UpdateFlags) error {
	return q.elem(unix.BPF_MAP_UPDATE_ELEM, "push", nil, unsafe.Pointer(&value), uint64(flags))
}

// Pop removes and returns the next value; an empty map gives an error wrapping
// ErrKeyNotExist.
func (q *fifo[V]) Pop() (V, error) {
	var v V
	err := q.PopInto(&v) // before v is read: the order of a return list's operands is not fixed
	return v, err
}

// PopInto is Pop into *value, without allocating.
func (q *fifo[V]) PopInto(value *V) error {
	return q.get(unix.BPF_MAP_LOOKUP_AND_DELETE_ELEM, "pop", value)
}

// Peek returns the next value without removing it (ErrKeyNotExist when empty).
func (q *fifo[V]) Peek() (V, error) {
	var v V
	err := q.get(unix.BPF_MAP_LOOKUP_ELEM, "peek", &v)
	return v, err
}

func (q *fifo[V]) get(cmd uintptr, op string, value *V) error {
	return q.elem(cmd, op, nil, unsafe.Pointer(value), 0)
}

// Queue is a typed accessor for a BPF_MAP_TYPE_QUEUE map: Pop and Peek return the oldest
// value (first in, first out).
type Queue[V any] struct {
	fifo[V]
}

// NewQueue checks V against the map and that it is a BPF_MAP_TYPE_QUEUE.
func NewQueue[V any](m Map) (*Queue[V], error) {
	f, err := newFIFO[V](m, "maps.NewQueue", TypeQueue)
	if err != nil {
		return nil, err
	}
	return &Queue[V]{f}, nil
}

// Stack is a typed accessor for a BPF_MAP_TYPE_STACK map: Pop and Peek return the newest
// value (last in, first out).
type Stack[V any] struct {
	fifo[V]
}

// NewStack checks V against the map and that it is a BPF_MAP_TYPE_STACK.
func NewStack[V any](m Map) (*Stack[V], error) {
	f, err := newFIFO[V](m, "maps.NewStack", TypeStack)
	if err != nil {
		return nil, err
	}
	return &Stack[V]{f}, nil
}
