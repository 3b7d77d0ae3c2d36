// SPDX-License-Identifier: Apache-2.0

package maps

// UpdateFlags select how Update treats an existing key (the flags of bpf_map_update_elem).
type UpdateFlags uint64

const (
	// UpdateAny creates the entry or replaces an existing one (BPF_ANY).
	UpdateAny UpdateFlags = 0
	// UpdateNoExist creates the entry only if the key is absent (BPF_NOEXIST); otherwise
	// the update fails with ErrKeyExist.
	UpdateNoExist UpdateFlags = 1
	// UpdateExist replaces the entry only if the key is present (BPF_EXIST); otherwise the
	// update fails with ErrKeyNotExist. For a queue or stack, Push with UpdateExist
	// overwrites the oldest element when the map is full.
	UpdateExist UpdateFlags = 2
)
