// SPDX-License-Identifier: Apache-2.0

package spinlock

import (
	"fmt"

	"github.com/cilium/ebpf/btf"

	"github.com/bpfkit/bpfkit/internal/sys"
)

// fieldKind is a special kernel type that may sit in a map value: internal/sys's, under
// the short names the check's code uses.
type fieldKind = sys.FieldKind

const (
	kindLock     = sys.SpinLock
	kindTimer    = sys.Timer
	kindWq       = sys.Workqueue
	kindListHead = sys.ListHead
	kindRbRoot   = sys.RBRoot
	kindResLock  = sys.ResSpinLock
	kindListNode = sys.ListNode
	kindRbNode   = sys.RBNode
	kindRefcount = sys.Refcount
	kindKptr     = sys.Kptr // a pointer tagged __kptr: an allocated object stored in the value
)

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

// scanFields lists the special members of a value type (a struct, or a DATASEC's
// variables) with internal/sys's finder, which the maps package shares.
func scanFields(value btf.Type) []field {
	sf := sys.SpecialFields(value)
	out := make([]field, 0, len(sf))
	for _, f := range sf {
		out = append(out, field{kind: f.Kind, off: f.Offset, nested: f.Nested, array: f.InArray, wrapped: f.Wrapped,
			path: f.Path, contains: f.Contains, node: f.Node, target: f.Target})
	}
	return out
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
