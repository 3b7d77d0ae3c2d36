// SPDX-License-Identifier: Apache-2.0

package spinlock

import (
	"fmt"
	"strings"

	"github.com/cilium/ebpf/btf"
)

// fieldKind is a special kernel type that may sit in a map value.
type fieldKind int

const (
	kindLock fieldKind = iota
	kindTimer
	kindWq
	kindListHead
	kindRbRoot
	kindResLock
	kindListNode
	kindRbNode
	kindRefcount
	kindKptr // a pointer tagged __kptr: an allocated object stored in the value
)

// kindNames are the struct names the kernel recognises special fields by.
var kindNames = map[string]fieldKind{
	"bpf_spin_lock":     kindLock,
	"bpf_timer":         kindTimer,
	"bpf_wq":            kindWq,
	"bpf_list_head":     kindListHead,
	"bpf_rb_root":       kindRbRoot,
	"bpf_res_spin_lock": kindResLock,
	"bpf_list_node":     kindListNode,
	"bpf_rb_node":       kindRbNode,
	"bpf_refcount":      kindRefcount,
}

func (k fieldKind) String() string {
	if k == kindKptr {
		return "kptr"
	}
	for n, v := range kindNames {
		if v == k {
			return n
		}
	}
	return "?"
}

// isGraphRoot: a bpf_list_head or bpf_rb_root, which a lock in the same value guards.
func (k fieldKind) isGraphRoot() bool { return k == kindListHead || k == kindRbRoot }

// field is one special member found in a value type, wherever it sits.
type field struct {
	kind   fieldKind
	off    uint32 // byte offset in the value
	nested bool   // inside a struct member of the value (seen by the kernel since 6.10)
	array  bool   // an element of an array of such fields
	// wrapped: declared through a typedef or a qualifier (const struct bpf_spin_lock),
	// which the kernel does not look through: it does not see the field.
	wrapped bool
	path    string // "val.inner.lock", for messages
	// graph roots: the type and node member named by __contains(type, node), from the
	// member's (or global's) BTF decl tag "contains:type:node".
	contains, node string
	// kptr: the struct the pointer points to.
	target *btf.Struct
}

// Bounds on what a (possibly hostile) BTF can make the scan do.
const (
	maxScanDepth  = 16
	maxScanFields = 4096
)

// scanFields lists the special members of a value type: for a struct its members (and,
// recursively, members of struct members), for a DATASEC its variables.
func scanFields(value btf.Type) []field {
	s := &scanner{}
	switch t := btf.UnderlyingType(value).(type) {
	case *btf.Datasec:
		for _, vsi := range t.Vars {
			v, ok := vsi.Type.(*btf.Var)
			if !ok {
				continue
			}
			s.tags = v.Tags
			s.member(v.Type, vsi.Offset, 0, v.Name, false)
		}
	case *btf.Struct:
		s.members(t, 0, 0, t.Name)
	}
	return s.out
}

type scanner struct {
	out   []field
	steps int
	tags  []string // BTF decl tags of the member being looked at
}

func (s *scanner) members(st *btf.Struct, base uint32, depth int, path string) {
	for _, m := range st.Members {
		if m.Offset%8 != 0 || m.BitfieldSize != 0 {
			continue
		}
		s.tags = m.Tags
		s.member(m.Type, base+uint32(m.Offset/8), depth, path+"."+m.Name, false)
	}
}

// member looks at a member of type t at byte offset off; depth counts enclosing struct
// members (0: a direct member of the value).
func (s *scanner) member(t btf.Type, off uint32, depth int, path string, inArray bool) {
	s.memberW(t, off, depth, path, inArray, false)
}

// memberW is member with wrapped: an enclosing member was declared through a typedef or
// qualifier, which the kernel does not look through.
func (s *scanner) memberW(t btf.Type, off uint32, depth int, path string, inArray, wrapped bool) {
	s.steps++
	if s.steps > maxScanFields || depth > maxScanDepth {
		return
	}
	_, direct := t.(*btf.Struct)
	_, isArray := t.(*btf.Array)
	wrapped = wrapped || (!direct && !isArray)
	switch u := btf.UnderlyingType(t).(type) {
	case *btf.Struct:
		if k, ok := kindNames[u.Name]; ok {
			f := field{kind: k, off: off, nested: depth > 0, array: inArray, path: path, wrapped: wrapped}
			if k.isGraphRoot() {
				f.contains, f.node = containsTag(s.tags)
			}
			s.out = append(s.out, f)
			return
		}
		for _, m := range u.Members {
			if m.Offset%8 != 0 || m.BitfieldSize != 0 {
				continue
			}
			s.tags = m.Tags
			s.memberW(m.Type, off+uint32(m.Offset/8), depth+1, path+"."+m.Name, inArray, wrapped)
		}
	case *btf.Pointer:
		if target, ok := kptrTarget(u); ok {
			s.out = append(s.out, field{kind: kindKptr, off: off, nested: depth > 0, array: inArray, path: path, target: target})
		}
	case *btf.Array:
		if elem, ok := u.Type.(*btf.Struct); ok {
			s.memberW(elem, off, depth, path+"[0]", inArray || u.Nelems != 1, wrapped)
		} else if _, ok := btf.UnderlyingType(u.Type).(*btf.Struct); ok {
			s.memberW(u.Type, off, depth, path+"[0]", inArray || u.Nelems != 1, true)
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
	for range maxScanDepth {
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

// btfRefusal reports whether a 6.2+ kernel refuses the object's BTF as a whole: when it
// loads program BTF it parses every struct that holds a bpf_spin_lock member, and fails
// the load for two of them (-E2BIG) or for a lock it cannot use (-EFAULT). It returns
// the rule (M5, M6) and what it found, or "".
func btfRefusal(spec *btf.Spec) (string, string) {
	n := 0
	for typ, err := range spec.All() {
		if err != nil {
			return "", ""
		}
		if n++; n > 1<<20 {
			return "", ""
		}
		st, ok := typ.(*btf.Struct)
		if !ok || st.Name == "bpf_spin_lock" {
			continue
		}
		locks, aligned := 0, 0
		for _, m := range st.Members {
			ms, ok := btf.UnderlyingType(m.Type).(*btf.Struct)
			if !ok || ms.Name != "bpf_spin_lock" {
				continue
			}
			locks++
			if m.Offset%32 == 0 {
				aligned++
			}
		}
		switch {
		case aligned > 1:
			return RuleM5, fmt.Sprintf("struct %s holds %d bpf_spin_locks: -E2BIG", st.Name, aligned)
		case locks > 0 && aligned == 0:
			return RuleM6, fmt.Sprintf("struct %s holds a bpf_spin_lock at an offset not divisible by 4: -EFAULT", st.Name)
		}
	}
	return "", ""
}
