// SPDX-License-Identifier: Apache-2.0

package maps

import (
	"reflect"

	"github.com/cilium/ebpf"
)

// Hash is a typed accessor for a BPF_MAP_TYPE_HASH map with keys K and values V.
// Build it with NewHash; it is safe for concurrent use. It does not own the map.
type Hash[K, V any] struct {
	base
	lockable
	keyed[K, V]
	deleter[K]
	lookupAndDeleter[K, V]
	locked[K, V]
	lockedLookupAndDeleter[K, V]
	batchReader[K, V]
	batchWriter[K, V]
	batchDeleter[K]
	batchLookupAndDeleter[K, V]
	lockedBatch[K, V]
}

// NewHash checks K and V against the map (plain data, sizes, BTF layout; see ErrLayout)
// and that the map is a BPF_MAP_TYPE_HASH (ErrMapType otherwise).
func NewHash[K, V any](m Map) (*Hash[K, V], error) {
	h, err := newKeyed(m, "maps.NewHash", reflect.TypeFor[K](), reflect.TypeFor[V](), ebpf.Hash)
	if err != nil {
		return nil, err
	}
	return &Hash[K, V]{base{h}, lockable{h}, keyed[K, V]{h}, deleter[K]{h}, lookupAndDeleter[K, V]{h},
		locked[K, V]{h}, lockedLookupAndDeleter[K, V]{h}, batchReader[K, V]{h}, batchWriter[K, V]{h},
		batchDeleter[K]{h}, batchLookupAndDeleter[K, V]{h}, lockedBatch[K, V]{h}}, nil
}

// LRUHash is a typed accessor for a BPF_MAP_TYPE_LRU_HASH map: a Hash whose least recently
// used entries the kernel evicts when it is full. LRU maps cannot hold a bpf_spin_lock,
// so it has no *Locked operations.
type LRUHash[K, V any] struct {
	base
	keyed[K, V]
	deleter[K]
	lookupAndDeleter[K, V]
	batchReader[K, V]
	batchWriter[K, V]
	batchDeleter[K]
	batchLookupAndDeleter[K, V]
}

// NewLRUHash checks K and V against the map and that it is a BPF_MAP_TYPE_LRU_HASH.
func NewLRUHash[K, V any](m Map) (*LRUHash[K, V], error) {
	h, err := newKeyed(m, "maps.NewLRUHash", reflect.TypeFor[K](), reflect.TypeFor[V](), ebpf.LRUHash)
	if err != nil {
		return nil, err
	}
	return &LRUHash[K, V]{base{h}, keyed[K, V]{h}, deleter[K]{h}, lookupAndDeleter[K, V]{h},
		batchReader[K, V]{h}, batchWriter[K, V]{h}, batchDeleter[K]{h}, batchLookupAndDeleter[K, V]{h}}, nil
}

// LPMTrie is a typed accessor for a BPF_MAP_TYPE_LPM_TRIE map. K must start with a uint32
// prefix length in bits followed by the data (struct bpf_lpm_trie_key_u8 in C), for example
//
//	type Key struct {
//		Prefixlen uint32
//		Addr      [4]byte
//	}
//
// Lookup returns the value of the longest stored prefix that matches the key; Update and
// Delete address the exact prefix. The kernel has batch lookups, updates and deletes for
// tries (5.13+), but no lookup-and-delete, and a trie cannot hold a bpf_spin_lock.
type LPMTrie[K, V any] struct {
	base
	keyed[K, V]
	deleter[K]
	batchReader[K, V]
	batchWriter[K, V]
	batchDeleter[K]
}

// NewLPMTrie checks K and V against the map and that it is a BPF_MAP_TYPE_LPM_TRIE.
func NewLPMTrie[K, V any](m Map) (*LPMTrie[K, V], error) {
	h, err := newKeyed(m, "maps.NewLPMTrie", reflect.TypeFor[K](), reflect.TypeFor[V](), ebpf.LPMTrie)
	if err != nil {
		return nil, err
	}
	return &LPMTrie[K, V]{base{h}, keyed[K, V]{h}, deleter[K]{h}, batchReader[K, V]{h},
		batchWriter[K, V]{h}, batchDeleter[K]{h}}, nil
}
