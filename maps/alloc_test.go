// SPDX-License-Identifier: Apache-2.0

package maps_test

import (
	"testing"

	"github.com/bpfkit/bpfkit/maps"
)

// TestZeroAllocations holds the hot paths to no allocation per operation.
func TestZeroAllocations(t *testing.T) {
	o := testObject(t)
	h := must[*maps.Hash[uint32, plain]](t)(maps.NewHash[uint32, plain](testMap(t, o, "h_plain")))
	lh := must[*maps.Hash[uint32, lockedVal]](t)(maps.NewHash[uint32, lockedVal](testMap(t, o, "h_lock")))
	a := must[*maps.Array[uint64]](t)(maps.NewArray[uint64](testMap(t, o, "a_plain")))
	pc := must[*maps.PerCPUArray[uint64]](t)(maps.NewPerCPUArray[uint64](testMap(t, o, "pc_array")))
	if err := h.Update(1, plain{A: 1}, maps.UpdateAny); err != nil {
		t.Fatal(err)
	}
	if err := lh.Update(1, lockedVal{}, maps.UpdateAny); err != nil {
		t.Fatal(err)
	}
	var v plain
	var lv lockedVal
	var u uint64
	pv := make([]uint64, pc.NumCPU())
	for name, f := range map[string]func(){
		"Hash.LookupInto":       func() { h.LookupInto(1, &v) },
		"Hash.Lookup":           func() { v, _ = h.Lookup(1) },
		"Hash.Update":           func() { h.Update(1, v, maps.UpdateAny) },
		"Hash.LookupLockedInto": func() { lh.LookupLockedInto(1, &lv) },
		"Hash.UpdateLocked":     func() { lh.UpdateLocked(1, lv, maps.UpdateExist) },
		"Array.LookupInto":      func() { a.LookupInto(3, &u) },
		"Array.Update":          func() { a.Update(3, u, maps.UpdateAny) },
		"PerCPUArray.LookupInto": func() {
			pc.LookupInto(0, pv)
		},
	} {
		if n := testing.AllocsPerRun(1000, f); n != 0 {
			t.Errorf("%s: %v allocations per op", name, n)
		}
	}
}
