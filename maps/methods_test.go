// SPDX-License-Identifier: Apache-2.0

package maps_test

import (
	"reflect"
	"slices"
	"strings"
	"testing"

	"github.com/bpfkit/bpfkit/maps"
)

// TestMethodSets pins each accessor's method set to what its kernel map type supports
// (issue 14): no LookupAndDelete or *Locked on a trie, no *Locked on LRU maps, no HasLock
// where no lock can be, no Delete on arrays, no iteration on queues. A method added to
// or lost from an accessor fails here, not at a user's run time.
func TestMethodSets(t *testing.T) {
	type k = uint32
	type v = uint64
	common := []string{"Info", "Name"}
	keyed := []string{"All", "Iterate", "Lookup", "LookupInto", "Update"}
	locked := []string{"HasLock", "LookupLocked", "LookupLockedInto", "UpdateLocked", "BatchLookupLocked", "BatchUpdateLocked"}
	batch := []string{"BatchLookup", "BatchUpdate"}
	pcpu := []string{"All", "Iterate", "Lookup", "LookupInto", "Update", "NumCPU", "BatchLookup", "BatchUpdate"}
	hashOnly := []string{"Delete", "LookupAndDelete", "BatchDelete", "BatchLookupAndDelete"}
	cat := func(lists ...[]string) []string {
		var all []string
		for _, l := range lists {
			all = append(all, l...)
		}
		return all
	}
	for _, tt := range []struct {
		typ  reflect.Type
		want []string
	}{
		{reflect.TypeFor[*maps.Hash[k, v]](), cat(common, keyed, locked, batch, hashOnly, []string{"LookupAndDeleteLocked"})},
		{reflect.TypeFor[*maps.LRUHash[k, v]](), cat(common, keyed, batch, hashOnly)},
		{reflect.TypeFor[*maps.LPMTrie[k, v]](), cat(common, keyed, batch, []string{"Delete", "BatchDelete"})},
		{reflect.TypeFor[*maps.Array[v]](), cat(common, keyed, locked, batch, []string{"Len"})},
		{reflect.TypeFor[*maps.PerCPUHash[k, v]](), cat(common, pcpu, hashOnly)},
		{reflect.TypeFor[*maps.LRUPerCPUHash[k, v]](), cat(common, pcpu, hashOnly)},
		{reflect.TypeFor[*maps.PerCPUArray[v]](), cat(common, pcpu)},
		{reflect.TypeFor[*maps.Queue[v]](), cat(common, []string{"Push", "Pop", "PopInto", "Peek", "PeekInto"})},
		{reflect.TypeFor[*maps.Stack[v]](), cat(common, []string{"Push", "Pop", "PopInto", "Peek", "PeekInto"})},
		{reflect.TypeFor[*maps.BloomFilter[v]](), cat(common, []string{"Add", "Contains"})},
		{reflect.TypeFor[*maps.HashOfMaps[k]](), cat(common, []string{"Update", "LookupID", "Lookup", "Delete"})},
		{reflect.TypeFor[*maps.ArrayOfMaps](), cat(common, []string{"Update", "LookupID", "Lookup", "Delete"})},
		{reflect.TypeFor[*maps.RingBuf[v]](), cat(common, []string{"Read", "ReadInto", "ReadBatch", "Available", "Close"})},
		{reflect.TypeFor[*maps.RawRingBuf](), cat(common, []string{"Read", "ReadInto", "Available", "Close"})},
		{reflect.TypeFor[*maps.PerfBuf[v]](), cat(common, []string{"Read", "ReadInto", "Lost", "Close"})},
	} {
		var got []string
		for i := range tt.typ.NumMethod() {
			got = append(got, tt.typ.Method(i).Name)
		}
		want := slices.Clone(tt.want)
		slices.Sort(want)
		if !slices.Equal(got, want) {
			t.Errorf("%v:\n has  %s\n want %s", tt.typ, strings.Join(got, " "), strings.Join(want, " "))
		}
	}
}
