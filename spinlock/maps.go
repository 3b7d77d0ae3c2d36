// SPDX-License-Identifier: Apache-2.0

package spinlock

import (
	"strings"

	"github.com/cilium/ebpf"
)

// mapInfo is what the check knows of one map or global-data section.
type mapInfo struct {
	name     string // as the user wrote it: "counters", ".bss", ".bss.A"
	ref      string // as instructions reference it in the parsed spec
	section  string // ".maps", "maps" (legacy, no BTF) or the data section's name
	typ      ebpf.MapType
	flags    uint32
	datasec  bool
	hasBTF   bool // the object describes the value with BTF
	fields   []field
	varNames map[uint32]string // datasec: variable name by offset
}

const flagRdonlyProg = 0x80 // BPF_F_RDONLY_PROG

func (m *mapInfo) rdonly() bool {
	return m.flags&flagRdonlyProg != 0 || (m.datasec && strings.HasPrefix(m.name, ".rodata"))
}

// lockView is how a kernel of a given version sees a map: which special fields its
// record holds and whether the map is created with its BTF at all.
type lockView struct {
	// btfDropped: map creation with BTF fails (the lock, timer … is not allowed in
	// this map type, or the map is read-only); libbpf retries without BTF and the
	// kernel then sees no field at all. dropRule says why (M2, M3, G4, M7).
	btfDropped bool
	dropRule   string

	lock      *field // the lock the kernel uses, if exactly one valid one
	lockRule  string // when lock is nil but the value holds lock members: M4, M5, M6 or G3
	lockFound bool   // the value holds at least one bpf_spin_lock member, usable or not

	timer, wq, graph bool // seen by the kernel: bpf_timer, bpf_wq, bpf_list_head/bpf_rb_root

	resLock     *field  // the bpf_res_spin_lock the kernel uses (6.15+), if exactly one
	resLockRule string  // when resLock is nil but the value holds res lock members
	roots       []field // the graph roots (bpf_list_head, bpf_rb_root) the kernel sees
	kptrs       []field // the __kptr fields the kernel sees
}

// anyLock is the value's lock of either kind (the P and M rules treat both alike).
func (lv lockView) anyLock() *field {
	if lv.lock != nil {
		return lv.lock
	}
	return lv.resLock
}

// lockAllowed lists the map types that may hold a bpf_spin_lock (map_check_btf).
func lockAllowed(t ebpf.MapType, v Version) bool {
	switch t {
	case ebpf.Hash, ebpf.Array, ebpf.CGroupStorage, ebpf.SkStorage, ebpf.InodeStorage, ebpf.TaskStorage:
		return true
	case ebpf.CgroupStorage:
		return v.AtLeast(6, 2)
	}
	return false
}

// timerAllowed lists the map types that may hold a bpf_timer or bpf_wq.
func timerAllowed(t ebpf.MapType) bool {
	return t == ebpf.Hash || t == ebpf.LRUHash || t == ebpf.Array
}

// view applies the kernel's rules of version v to the map's value layout.
func (m *mapInfo) view(v Version) lockView {
	var lv lockView
	if !m.hasBTF {
		return lv
	}
	var locks, hiddenNested, arrays, misaligned, wrapped []field
	var resLocks, resBad []field
	var timers, wqs, graphs int
	for i := range m.fields {
		f := m.fields[i]
		visible := (!f.nested || v.AtLeast(6, 10)) && !f.wrapped
		switch f.kind {
		case kindLock:
			lv.lockFound = true
			switch {
			case f.wrapped:
				wrapped = append(wrapped, f)
			case !visible:
				hiddenNested = append(hiddenNested, f)
			case f.array:
				arrays = append(arrays, f)
			case f.off%4 != 0:
				misaligned = append(misaligned, f)
			default:
				locks = append(locks, f)
			}
		case kindTimer:
			if visible && !f.array {
				timers++
			}
		case kindWq:
			if visible && !f.array && v.AtLeast(6, 10) {
				wqs++
			}
		case kindListHead, kindRbRoot:
			if visible && !f.array && v.AtLeast(6, 3) || (f.kind == kindListHead && visible && v.AtLeast(6, 2)) {
				graphs++
				lv.roots = append(lv.roots, f)
			}
		case kindResLock:
			switch {
			case !v.AtLeast(6, 15):
			case visible && !f.array && f.off%8 == 0:
				resLocks = append(resLocks, f)
			default:
				resBad = append(resBad, f)
			}
		case kindKptr:
			if visible && !f.array && v.AtLeast(6, 2) {
				lv.kptrs = append(lv.kptrs, f)
			}
		}
	}
	multi := len(locks) > 1 || (len(arrays) > 0 && v.AtLeast(6, 10))
	switch {
	case multi:
		// btf_parse_fields fails with -E2BIG: the map is created with no record at all.
		lv.lockRule = RuleM5
		if m.datasec {
			lv.lockRule = RuleG3
		}
		lv.roots, lv.kptrs = nil, nil
		return lv
	case len(misaligned) > 0 && v.Before(6, 2):
		// 6.1 stops at a misaligned lock (-EINVAL): the whole record is lost.
		lv.lockRule = RuleM6
		lv.roots, lv.kptrs = nil, nil
		return lv
	case len(locks) == 1:
		lv.lock = &locks[0]
	case len(arrays) > 0:
		lv.lockRule = RuleM5
		if m.datasec {
			lv.lockRule = RuleG3
		}
	case len(misaligned) > 0:
		lv.lockRule = RuleM6
	case len(hiddenNested) > 0:
		lv.lockRule = RuleM4
	case len(wrapped) > 0 && m.datasec && m.rdonly():
		lv.lockRule = RuleG4
	case len(wrapped) > 0:
		lv.lockRule = RuleM4
	}
	lv.timer, lv.wq, lv.graph = timers == 1, wqs == 1, graphs > 0
	switch {
	case len(resLocks) == 1:
		lv.resLock = &resLocks[0]
	case len(resLocks) > 1 || len(resBad) > 0:
		lv.resLockRule = RuleM5
		if len(resLocks) <= 1 {
			lv.resLockRule = RuleM6
		}
	}
	// Map creation: fields the map type cannot hold, or a read-only map, fail with
	// -EOPNOTSUPP/-EACCES; libbpf then retries without BTF.
	switch {
	case (lv.anyLock() != nil || lv.timer || lv.wq || lv.graph) && m.rdonly():
		lv.btfDropped, lv.dropRule = true, RuleM3
		if m.datasec {
			lv.dropRule = RuleG4
		}
	case lv.anyLock() != nil && !lockAllowed(m.typ, v):
		lv.btfDropped, lv.dropRule = true, RuleM2
	case (lv.timer || lv.wq) && !timerAllowed(m.typ):
		lv.btfDropped, lv.dropRule = true, RuleM7
	}
	if lv.btfDropped {
		lv.lock, lv.timer, lv.wq, lv.graph = nil, false, false, false
		lv.resLock, lv.roots, lv.kptrs = nil, nil, nil
	}
	return lv
}

// describe names the map for messages: `map "counters"` or `global data section ".bss"`.
func (m *mapInfo) describe() string {
	if m.datasec {
		return `global data section "` + m.name + `"`
	}
	return `map "` + m.name + `"`
}

// mapTypeNames are the kernel's names of map types (enum bpf_map_type), for messages.
var mapTypeNames = []string{
	"UNSPEC", "HASH", "ARRAY", "PROG_ARRAY", "PERF_EVENT_ARRAY", "PERCPU_HASH",
	"PERCPU_ARRAY", "STACK_TRACE", "CGROUP_ARRAY", "LRU_HASH", "LRU_PERCPU_HASH",
	"LPM_TRIE", "ARRAY_OF_MAPS", "HASH_OF_MAPS", "DEVMAP", "SOCKMAP", "CPUMAP", "XSKMAP",
	"SOCKHASH", "CGROUP_STORAGE", "REUSEPORT_SOCKARRAY", "PERCPU_CGROUP_STORAGE", "QUEUE",
	"STACK", "SK_STORAGE", "DEVMAP_HASH", "STRUCT_OPS", "RINGBUF", "INODE_STORAGE",
	"TASK_STORAGE", "BLOOM_FILTER", "USER_RINGBUF", "CGRP_STORAGE", "ARENA",
}

// mapTypeName is the kernel's spelling of a map type: "BPF_MAP_TYPE_PERCPU_ARRAY".
func mapTypeName(t ebpf.MapType) string {
	if int(t) < len(mapTypeNames) {
		return "BPF_MAP_TYPE_" + mapTypeNames[t]
	}
	return "map type " + t.String()
}
