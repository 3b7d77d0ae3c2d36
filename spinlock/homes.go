// SPDX-License-Identifier: Apache-2.0

package spinlock

import (
	"fmt"

	"github.com/cilium/ebpf"
	"github.com/cilium/ebpf/btf"
)

// Where a lock lives (its home): a map value or global-data section (V, G), the value of
// an inner map reached through a map of maps (N), or an allocated object from
// bpf_obj_new, a kptr or a graph node (A). Every pointer the interpreter follows names
// its home; the home says which special fields the kernel sees there.

type homeKind uint8

const (
	homeMap   homeKind = iota // a map of the object, global-data sections included
	homeInner                 // the inner map of a map of maps (its template)
	homeAlloc                 // an allocated object of one program-local struct type
)

type home struct {
	kind homeKind
	m    int         // homeMap: the map; homeInner: the outer map
	info *mapInfo    // the map; the inner map's template; the object's type as a value
	typ  *btf.Struct // homeAlloc: the object's type
	view *lockView
}

// allocClass is the lock identity class of every allocated object: the kernel tells
// their locks apart by the program's BTF and the object's id.
const allocClass = -2

// class is the first half of a lock's identity in the kernel: the map (for an inner
// map, the template every inner map shares), or the BTF of allocated objects.
func (c *checker) class(h int32) int32 {
	if c.homes[h].kind == homeAlloc {
		return allocClass
	}
	return h
}

// initHomes makes one home per map, in map order (a map's home index is its index).
func (c *checker) initHomes() {
	c.homes = make([]*home, len(c.maps))
	for i, m := range c.maps {
		c.homes[i] = &home{kind: homeMap, m: i, info: m}
	}
	c.innerHomes = make(map[int]int32)
	c.allocHomes = make(map[*btf.Struct]int32)
}

// hview is how the kernel sees a home's value.
func (c *checker) hview(h int32) lockView {
	hm := c.homes[h]
	if hm.kind == homeMap {
		return c.view(hm.m)
	}
	if hm.view == nil {
		v := hm.info.view(c.kernel)
		if hm.kind == homeAlloc {
			// 6.18 parses the fields of program-local types without looking for a
			// bpf_res_spin_lock: an object's res lock is not seen ("local 'kptr' has no
			// valid bpf_res_spin_lock").
			v.resLock, v.resLockRule = nil, ""
		}
		if c.btfRefusal != "" && hm.info.hasBTF {
			v = lockView{btfDropped: true, dropRule: c.btfRefusal, lockFound: v.lockFound}
		}
		hm.view = &v
	}
	return *hm.view
}

// innerHome returns the home of the values of the inner maps of map of maps outer.
func (c *checker) innerHome(outer int) (int32, bool) {
	if h, ok := c.innerHomes[outer]; ok {
		return h, h >= 0
	}
	spec := c.mapSpecs[outer]
	if spec == nil || spec.InnerMap == nil {
		c.innerHomes[outer] = -1
		return -1, false
	}
	in := spec.InnerMap
	info := &mapInfo{name: c.maps[outer].name + ".inner", section: ".maps", typ: in.Type, flags: in.Flags}
	if in.Value != nil {
		info.hasBTF = true
		info.fields = scanFields(in.Value)
	}
	h := int32(len(c.homes))
	c.homes = append(c.homes, &home{kind: homeInner, m: outer, info: info})
	c.innerHomes[outer] = h
	return h, true
}

// allocHome returns the home of allocated objects of type t.
func (c *checker) allocHome(t *btf.Struct) int32 {
	if h, ok := c.allocHomes[t]; ok {
		return h
	}
	info := &mapInfo{name: t.Name, section: ".BTF", typ: ebpf.Hash, hasBTF: true, fields: scanFields(t)}
	h := int32(len(c.homes))
	c.homes = append(c.homes, &home{kind: homeAlloc, m: -1, info: info, typ: t})
	c.allocHomes[t] = h
	return h
}

// allocHomeByName finds the home of the program-local struct named name (from a
// __contains tag), or -1.
func (c *checker) allocHomeByName(name string) int32 {
	if c.types == nil || name == "" {
		return -1
	}
	var st *btf.Struct
	if err := c.types.TypeByName(name, &st); err != nil {
		return -1
	}
	return c.allocHome(st)
}

// allocHomeByID finds the home of the struct with BTF type ID id (the argument of
// bpf_obj_new_impl, from bpf_core_type_id_local), or -1.
func (c *checker) allocHomeByID(id int64) int32 {
	if c.types == nil || id <= 0 || id > 1<<31 {
		return -1
	}
	t, err := c.types.TypeByID(btf.TypeID(id))
	if err != nil {
		return -1
	}
	st, ok := btf.UnderlyingType(t).(*btf.Struct)
	if !ok {
		return -1
	}
	return c.allocHome(st)
}

// describeHome names a home for messages: `map "counters"`, `global data section
// ".bss"`, `an inner map of "outer"`, `an object of type "struct node"`.
func (c *checker) describeHome(h int32) string {
	hm := c.homes[h]
	switch hm.kind {
	case homeInner:
		return fmt.Sprintf("an inner map of %s", c.maps[hm.m].describe())
	case homeAlloc:
		if hm.typ.Name == "" {
			return "an allocated object of an anonymous struct type"
		}
		return fmt.Sprintf("an allocated object of type \"struct %s\"", hm.typ.Name)
	}
	return hm.info.describe()
}

// kernelHomeName is how the kernel names the home in its messages: "map '%s'" or, for
// an allocated object, "local 'kptr'".
func (c *checker) kernelHomeName(h int32) (what, name string) {
	hm := c.homes[h]
	switch hm.kind {
	case homeAlloc:
		return "local", "kptr"
	case homeInner:
		return "map", c.kernelMapName(hm.info)
	}
	return "map", c.kernelMapName(hm.info)
}

// homeMapInfo is the map a home belongs to (nil for objects), for findings.
func (c *checker) homeMapInfo(h int32) *mapInfo {
	hm := c.homes[h]
	switch hm.kind {
	case homeMap:
		return hm.info
	case homeInner:
		return c.maps[hm.m]
	}
	return nil
}

// isMapOfMaps reports whether a map type holds other maps.
func isMapOfMaps(t ebpf.MapType) bool { return t == ebpf.ArrayOfMaps || t == ebpf.HashOfMaps }
