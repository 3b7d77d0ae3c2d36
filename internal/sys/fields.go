// SPDX-License-Identifier: Apache-2.0

package sys

import (
	"strings"

	"github.com/cilium/ebpf/btf"
)

// FieldKind is a kernel type with special meaning inside a map value (or an allocated
// object, or a global-data section): the kernel finds these by name in the BTF and gives
// the map a record of them.
type FieldKind int

// The special field kinds, by the name of their C struct; Kptr is a pointer tagged
// __kptr.
const (
	SpinLock    FieldKind = iota // struct bpf_spin_lock
	Timer                        // struct bpf_timer
	Workqueue                    // struct bpf_wq
	ListHead                     // struct bpf_list_head
	RBRoot                       // struct bpf_rb_root
	ResSpinLock                  // struct bpf_res_spin_lock (6.15+)
	ListNode                     // struct bpf_list_node
	RBNode                       // struct bpf_rb_node
	Refcount                     // struct bpf_refcount
	Kptr                         // a pointer tagged __kptr: an allocated object in the value
)

// FieldKinds are the struct names the kernel recognises special fields by.
var FieldKinds = map[string]FieldKind{
	"bpf_spin_lock":     SpinLock,
	"bpf_timer":         Timer,
	"bpf_wq":            Workqueue,
	"bpf_list_head":     ListHead,
	"bpf_rb_root":       RBRoot,
	"bpf_res_spin_lock": ResSpinLock,
	"bpf_list_node":     ListNode,
	"bpf_rb_node":       RBNode,
	"bpf_refcount":      Refcount,
}

// String returns the C struct's name, e.g. "bpf_spin_lock" ("kptr" for Kptr).
func (k FieldKind) String() string {
	if k == Kptr {
		return "kptr"
	}
	for n, v := range FieldKinds {
		if v == k {
			return n
		}
	}
	return "unknown field kind"
}

// IsGraphRoot reports a bpf_list_head or bpf_rb_root, which a lock of the same value
// guards.
func (k FieldKind) IsGraphRoot() bool { return k == ListHead || k == RBRoot }

// Field is one special member of a value, wherever it sits.
type Field struct {
	Kind   FieldKind
	Offset uint32 // byte offset in the value
	// Nested: inside a struct member of the value (kernels see those since 6.10).
	Nested bool
	// InArray: an element of an array of such fields (of more than one element).
	InArray bool
	// Wrapped: declared through a typedef or a qualifier (const struct bpf_spin_lock),
	// which the kernel does not look through: it does not see the field.
	Wrapped bool
	// Path names the field for messages: "val.inner.lock", ".bss.lock".
	Path string
	// Contains and Node: for a graph root, the type and node member named by
	// __contains(type, node), from the member's (or global's) decl tag
	// "contains:type:node".
	Contains, Node string
	// Target: for a kptr, the struct it points to.
	Target *btf.Struct
}

// Bounds on what a (possibly hostile) BTF can make the scan do.
const (
	maxFieldDepth = 16
	maxFieldSteps = 4096
)

// SpecialFields lists the special fields of a value type: for a struct its members
// and, recursively, the members of its struct and array members; for a DATASEC (a
// global-data map) its variables. Members that are not byte-aligned (bitfields) cannot
// hold one and are skipped. The scan is bounded in depth and steps, so a hostile BTF
// cannot make it loop.
func SpecialFields(value btf.Type) []Field {
	s := &fieldScan{}
	switch t := btf.UnderlyingType(value).(type) {
	case *btf.Datasec:
		for _, vsi := range t.Vars {
			if v, ok := vsi.Type.(*btf.Var); ok {
				s.tags = v.Tags
				s.member(v.Type, vsi.Offset, 0, t.Name+"."+v.Name, false, false)
			}
		}
	case *btf.Struct:
		for _, m := range t.Members {
			if m.Offset%8 == 0 && m.BitfieldSize == 0 {
				s.tags = m.Tags
				s.member(m.Type, m.Offset.Bytes(), 0, t.Name+"."+m.Name, false, false)
			}
		}
	}
	return s.out
}

type fieldScan struct {
	out   []Field
	steps int
	tags  []string // the decl tags of the member being looked at
}

// member looks at a member of type t at byte offset off; depth counts the enclosing
// struct members (0: a direct member of the value).
func (s *fieldScan) member(t btf.Type, off uint32, depth int, path string, inArray, wrapped bool) {
	if s.steps++; s.steps > maxFieldSteps || depth > maxFieldDepth || t == nil {
		return
	}
	switch t.(type) {
	case *btf.Struct, *btf.Array, *btf.Pointer:
	default:
		wrapped = true // a typedef, const, volatile … between the member and its struct
	}
	switch u := btf.UnderlyingType(t).(type) {
	case *btf.Struct:
		if k, ok := FieldKinds[u.Name]; ok {
			f := Field{Kind: k, Offset: off, Nested: depth > 0, InArray: inArray, Wrapped: wrapped, Path: path}
			if k.IsGraphRoot() {
				f.Contains, f.Node = containsTag(s.tags)
			}
			s.out = append(s.out, f)
			return
		}
		for _, m := range u.Members {
			if m.Offset%8 == 0 && m.BitfieldSize == 0 {
				s.tags = m.Tags
				s.member(m.Type, off+m.Offset.Bytes(), depth+1, path+"."+m.Name, inArray, wrapped)
			}
		}
	case *btf.Pointer:
		if target, ok := kptrTarget(u); ok {
			s.out = append(s.out, Field{Kind: Kptr, Offset: off, Nested: depth > 0, InArray: inArray, Path: path, Target: target})
		}
	case *btf.Array:
		elem := u.Type
		if _, ok := btf.UnderlyingType(elem).(*btf.Struct); ok {
			s.member(elem, off, depth, path+"[0]", inArray || u.Nelems != 1, wrapped)
		}
	}
}

// containsTag reads a __contains(type, node) decl tag: "contains:type:node".
func containsTag(tags []string) (typ, node string) {
	for _, t := range tags {
		rest, ok := strings.CutPrefix(t, "contains:")
		if !ok {
			continue
		}
		typ, node, _ = strings.Cut(rest, ":")
		return typ, node
	}
	return "", ""
}

// kptrTarget reports whether p is a pointer tagged __kptr (btf_type_tag("kptr"), clang
// 15+) and the struct it points to.
func kptrTarget(p *btf.Pointer) (*btf.Struct, bool) {
	tagged := false
	t := p.Target
	for range maxFieldDepth {
		switch tt := t.(type) {
		case *btf.TypeTag:
			if tt.Value == "kptr" || tt.Value == "kptr_untrusted" || tt.Value == "percpu_kptr" {
				tagged = true
			}
			t = tt.Type
			continue
		case *btf.Const:
			t = tt.Type
			continue
		case *btf.Volatile:
			t = tt.Type
			continue
		case *btf.Typedef:
			t = tt.Type
			continue
		case *btf.Struct:
			return tt, tagged
		}
		break
	}
	return nil, false
}

// LockOffset returns the offset of the value's bpf_spin_lock as the kernel sees it, or
// -1 when the kernel finds no usable one: none, two or more (docs/SPINLOCK.md M5, G3), an
// array of locks, or only locks behind a typedef or qualifier, which it does not see.
// A lock in a nested struct counts (kernels before 6.10 do not see it: M4, and answer a
// locked operation with EINVAL).
func LockOffset(value btf.Type) int {
	found := -1
	n := 0
	for _, f := range SpecialFields(value) {
		if f.Kind != SpinLock || f.Wrapped {
			continue
		}
		if f.InArray {
			return -1
		}
		n++
		found = int(f.Offset)
	}
	if n != 1 {
		return -1
	}
	return found
}
