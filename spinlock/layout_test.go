// SPDX-License-Identifier: Apache-2.0

package spinlock

import (
	"testing"

	"github.com/cilium/ebpf"
	"github.com/cilium/ebpf/btf"
)

// TestLockView checks how each kernel version sees a lock, by value layout and map type.
func TestLockView(t *testing.T) {
	member := func(name string, typ btf.Type, byteOff uint32) btf.Member {
		return btf.Member{Name: name, Type: typ, Offset: btf.Bits(byteOff * 8)}
	}
	inner := &btf.Struct{Name: "inner", Size: 4, Members: []btf.Member{member("l", lockType, 0)}}
	timer := &btf.Struct{Name: "bpf_timer", Size: 16}
	values := map[string]btf.Type{
		"direct":   &btf.Struct{Name: "v", Size: 8, Members: []btf.Member{member("x", u32Type, 0), member("lock", lockType, 4)}},
		"nested":   &btf.Struct{Name: "v", Size: 8, Members: []btf.Member{member("x", u32Type, 0), member("in", inner, 4)}},
		"typedef":  &btf.Struct{Name: "v", Size: 8, Members: []btf.Member{member("x", u32Type, 0), member("lock", &btf.Typedef{Name: "lock_t", Type: lockType}, 4)}},
		"two":      &btf.Struct{Name: "v", Size: 8, Members: []btf.Member{member("a", lockType, 0), member("b", lockType, 4)}},
		"array":    &btf.Struct{Name: "v", Size: 8, Members: []btf.Member{member("locks", &btf.Array{Type: lockType, Nelems: 2}, 0)}},
		"unpacked": &btf.Struct{Name: "v", Size: 8, Members: []btf.Member{member("c", u32Type, 0), member("lock", lockType, 2)}},
		"timer":    &btf.Struct{Name: "v", Size: 16, Members: []btf.Member{member("t", timer, 0)}},
	}
	tests := []struct {
		value   string
		mapType ebpf.MapType
		flags   uint32
		v       Version
		lock    bool   // the kernel sees a usable lock
		rule    string // else why not ("" when there is no lock at all)
	}{
		{"direct", ebpf.Hash, 0, v6_1, true, ""},
		{"direct", ebpf.Array, 0, v6_18, true, ""},
		{"direct", ebpf.SkStorage, 0, v6_18, true, ""},
		{"direct", ebpf.PerCPUArray, 0, v6_18, false, RuleM2},
		{"direct", ebpf.LRUHash, 0, v6_6, false, RuleM2},
		{"direct", ebpf.Hash, flagRdonlyProg, v6_18, false, RuleM3},
		{"nested", ebpf.Hash, 0, v6_6, false, RuleM4},
		{"nested", ebpf.Hash, 0, v6_12, true, ""},
		{"typedef", ebpf.Hash, 0, v6_18, false, RuleM4},
		{"two", ebpf.Hash, 0, v6_18, false, RuleM5},
		{"two", ebpf.Hash, 0, v6_1, false, RuleM5},
		{"array", ebpf.Hash, 0, v6_18, false, RuleM5},
		{"array", ebpf.Hash, 0, v6_6, false, RuleM5},
		{"unpacked", ebpf.Hash, 0, v6_18, false, RuleM6},
		{"unpacked", ebpf.Hash, 0, v6_1, false, RuleM6},
		{"timer", ebpf.Hash, 0, v6_18, false, ""},
		{"timer", ebpf.PerCPUHash, 0, v6_18, false, RuleM7},
	}
	for _, tt := range tests {
		m := &mapInfo{name: "m", typ: tt.mapType, flags: tt.flags, hasBTF: true, fields: scanFields(values[tt.value])}
		lv := m.view(tt.v)
		rule := lv.lockRule
		if lv.btfDropped {
			rule = lv.dropRule
		}
		if (lv.lock != nil) != tt.lock || rule != tt.rule {
			t.Errorf("%s value in %v under %s: lock=%v rule=%q, want lock=%v rule=%q", tt.value, tt.mapType, tt.v, lv.lock != nil, rule, tt.lock, tt.rule)
		}
	}
}
