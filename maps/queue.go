// SPDX-License-Identifier: Apache-2.0

package maps

import (
	"reflect"
	"unsafe"

	"github.com/cilium/ebpf"
	"golang.org/x/sys/unix"
)

// fifo: the operations of the maps without keys whose values are pushed, popped and
// peeked (queues and stacks, kernel 4.20+).
type fifo[V any] struct{ h *handle }

func newFIFO[V any](m Map, accessor string, t ebpf.MapType) (*handle, error) {
	return newKeyed(m, accessor, nil, reflect.TypeFor[V](), t)
}

// Push adds value. When the map is full it fails with E2BIG, unless flags is UpdateExist:
// then the oldest value is dropped to make room.
func (q fifo[V]) Push(value V, flags UpdateFlags) error {
	return q.h.elem(unix.BPF_MAP_UPDATE_ELEM, "push", nil, unsafe.Pointer(&value), uint64(flags))
}

// Pop removes and returns the next value; an empty map gives an error wrapping
// ErrKeyNotExist.
func (q fifo[V]) Pop() (V, error) {
	var v V
	err := q.PopInto(&v) // before v is read: the order of a return list's operands is not fixed
	return v, err
}

// PopInto is Pop into *value, without allocating.
func (q fifo[V]) PopInto(value *V) error {
	return q.h.elem(unix.BPF_MAP_LOOKUP_AND_DELETE_ELEM, "pop", nil, unsafe.Pointer(value), 0)
}

// Peek returns the next value without removing it (ErrKeyNotExist when empty).
func (q fifo[V]) Peek() (V, error) {
	var v V
	err := q.PeekInto(&v)
	return v, err
}

// PeekInto is Peek into *value, without allocating.
func (q fifo[V]) PeekInto(value *V) error {
	return q.h.elem(unix.BPF_MAP_LOOKUP_ELEM, "peek", nil, unsafe.Pointer(value), 0)
}

// Queue is a typed accessor for a BPF_MAP_TYPE_QUEUE map: Pop and Peek return the oldest
// value (first in, first out).
type Queue[V any] struct {
	base
	fifo[V]
}

// NewQueue checks V against the map and that it is a BPF_MAP_TYPE_QUEUE.
func NewQueue[V any](m Map) (*Queue[V], error) {
	h, err := newFIFO[V](m, "maps.NewQueue", ebpf.Queue)
	if err != nil {
		return nil, err
	}
	return &Queue[V]{base{h}, fifo[V]{h}}, nil
}

// Stack is a typed accessor for a BPF_MAP_TYPE_STACK map: Pop and Peek return the newest
// value (last in, first out).
type Stack[V any] struct {
	base
	fifo[V]
}

// NewStack checks V against the map and that it is a BPF_MAP_TYPE_STACK.
func NewStack[V any](m Map) (*Stack[V], error) {
	h, err := newFIFO[V](m, "maps.NewStack", ebpf.Stack)
	if err != nil {
		return nil, err
	}
	return &Stack[V]{base{h}, fifo[V]{h}}, nil
}
