package maps

// Hash is a typed accessor for a BPF_MAP_TYPE_HASH map with keys K and values V.
// Build it with NewHash; it is safe for concurrent use. It does not own the map.
type Hash[K, V any] struct {
	kv[K, V]
}

// NewHash checks K and V against the map (plain data, sizes, BTF layout; see ErrLayout)
// and that the map is a BPF_MAP_TYPE_HASH (ErrMapType otherwise).
func NewHash[K, V any](m Map) (*Hash[K, V], error) {
	c, err := newKV[K, V](m, "maps.NewHash", TypeHash)
	if err != nil {
		return nil, err
	}
	return &Hash[K, V]{c}, nil
}

// LRUHash is a typed accessor for a BPF_MAP_TYPE_LRU_HASH map: a Hash whose least recently
// used entries the kernel evicts when it is full. LRU maps cannot hold a bpf_spin_lock, so
// the *Locked operations always return ErrNoLock.
type LRUHash[K, V any] struct {
	kv[K, V]
}

// NewLRUHash checks K and V against the map and that it is a BPF_MAP_TYPE_LRU_HASH.
func NewLRUHash[K, V any](m Map) (*LRUHash[K, V], error) {
	c, err := newKV[K, V](m, "maps.NewLRUHash", TypeLRUHash)
	if err != nil {
		return nil, err
	}
	return &LRUHash[K, V]{c}, nil
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
// Delete address the exact prefix. The kernel offers no batch or lookup-and-delete
// operations on tries.
type LPMTrie[K, V any] struct {
	kv[K, V]
}

// NewLPMTrie checks K and V against the map and that it is a BPF_MAP_TYPE_LPM_TRIE.
func NewLPMTrie[K, V any](m Map) (*LPMTrie[K, V], error) {
	c, err := newKV[K, V](m, "maps.NewLPMTrie", TypeLPMTrie)
	if err != nil {
		return nil, err
	}
	return &LPMTrie[K, V]{c}, nil
}
