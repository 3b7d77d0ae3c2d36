// SPDX-License-Identifier: Apache-2.0

// Package maps gives typed, generic access to BPF maps: the Go key and value types are
// checked once against the map's sizes and BTF, then every operation is a single bpf(2)
// syscall on the map's file descriptor. The package is pure Go (no cgo) and knows nothing
// of libbpf: accessors are built on a Map, which *loader.Map and *FDMap implement (FromFD
// wraps a descriptor from elsewhere).
//
// Accessors: Hash, LRUHash, Array (also for .bss/.data/.rodata), PerCPUHash, PerCPUArray,
// LRUPerCPUHash, Queue, Stack, LPMTrie, BloomFilter, HashOfMaps, ArrayOfMaps; readers:
// RingBuf and PerfBuf. Construction fails with ErrMapType for a map of another type and
// with ErrLayout, naming the Go type, the map and the first differing field with both
// offsets, when the Go types are not plain data of the map's sizes and BTF layout.
//
// Each accessor has the methods its kernel map type supports and no others: an LRUHash
// has no *Locked operations (LRU maps cannot hold a lock), an LPMTrie no lookup-and-
// delete, a Queue no iteration. Values that hold a struct bpf_spin_lock (a SpinLock field
// in Go) in a hash or array map can be read and written consistently with the *Locked
// operations (BPF_F_LOCK); on values without one they return ErrNoLock before any
// syscall. Lookup, LookupInto and Update do not allocate. An operation the running kernel
// is too old for fails with an error wrapping ErrNotSupported that names the kernel it
// needs. Map types are cilium/ebpf's (ebpf.Hash, ebpf.Array …). Accessors are safe for
// concurrent use; they never own the map.
//
// Lifetimes: an operation either completes on its own map or fails with ErrClosed. The
// map's owner (the loader.Object, or the FDMap) never closes the descriptor while an
// operation is in flight, so an accessor used while its map closes can never reach the
// map that reuses the descriptor number next. Readers (RingBuf, PerfBuf) belong to their
// map's owner: closing it closes them, and a blocked Read returns ErrClosed.
package maps

import (
	"github.com/cilium/ebpf"
	"github.com/cilium/ebpf/btf"

	"github.com/bpfkit/bpfkit/internal/sys"
)

// Info describes a map as the kernel created it (or, before load, as it will).
type Info struct {
	Name       string
	Type       ebpf.MapType
	KeySize    uint32
	ValueSize  uint32
	MaxEntries uint32
	Flags      uint32
	// Key and Value are the map's BTF key and value types; nil when the map has none.
	// For a global-data map (.bss, .data, .rodata) Key is nil and Value is its *btf.Datasec.
	Key, Value btf.Type
}

// Map is what an accessor is built on: *loader.Map, or an *FDMap (FromFD, or an inner
// map of a map of maps). Its unexported method carries the map's descriptor under the
// lifetime rule above, so no other type implements it.
type Map interface {
	// Info returns the map's type, sizes, flags and BTF types.
	Info() (Info, error)
	// Owner's unexported method hands accessors the map's descriptor under the
	// lifetime rule.
	sys.Owner
}
