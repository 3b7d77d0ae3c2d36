package spinlock

import (
	"fmt"

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
)

var kindNames = map[string]fieldKind{
	"bpf_spin_lock": kindLock,
	"bpf_timer":     kindTimer,
	"bpf_wq":        kindWq,
	"bpf_list_head": kindListHead,
	"bpf_rb_root":   kindRbRoot,
}

func (k fieldKind) String() string {
	for n, v := range kindNames {
		if v == k {
			return n
		}
	}
	return "?"
}

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
}

func (s *scanner) members(st *btf.Struct, base uint32, depth int, path string) {
	for _, m := range st.Members {
		if m.Offset%8 != 0 || m.BitfieldSize != 0 {
			continue
		}
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
			s.out = append(s.out, field{kind: k, off: off, nested: depth > 0, array: inArray, path: path, wrapped: wrapped})
			return
		}
		for _, m := range u.Members {
			if m.Offset%8 != 0 || m.BitfieldSize != 0 {
				continue
			}
			s.memberW(m.Type, off+uint32(m.Offset/8), depth+1, path+"."+m.Name, inArray, wrapped)
		}
	case *btf.Array:
		if elem, ok := u.Type.(*btf.Struct); ok {
			s.memberW(elem, off, depth, path+"[0]", inArray || u.Nelems != 1, wrapped)
		} else if _, ok := btf.UnderlyingType(u.Type).(*btf.Struct); ok {
			s.memberW(u.Type, off, depth, path+"[0]", inArray || u.Nelems != 1, true)
		}
	}
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
