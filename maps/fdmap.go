// SPDX-License-Identifier: Apache-2.0

package maps

import (
	"bytes"
	"fmt"

	"github.com/cilium/ebpf"
	"github.com/cilium/ebpf/btf"
	"golang.org/x/sys/unix"

	"github.com/bpfkit/bpfkit/internal/sys"
)

// FDMap is a Map known only by its file descriptor: one made by FromFD, or an inner map
// returned by HashOfMaps.Lookup. It owns its descriptor (a duplicate): Close it.
type FDMap struct {
	slot
	info Info
}

// slot is sys.Slot under a lower-case name, so that embedding it adds no exported field.
type slot = sys.Slot

var _ Map = (*FDMap)(nil)

// FromFD describes the map behind fd (BPF_OBJ_GET_INFO_BY_FD) and loads its BTF key and
// value types from the kernel by BTF id, so accessors built on it get the full layout
// check. It duplicates fd: the caller keeps ownership of fd, and must Close the result.
func FromFD(fd int) (*FDMap, error) {
	dup, err := unix.FcntlInt(uintptr(fd), unix.F_DUPFD_CLOEXEC, 3)
	if err != nil {
		return nil, fmt.Errorf("maps.FromFD(%d): %w", fd, err)
	}
	m, err := fromOwnedFD(dup)
	if err != nil {
		unix.Close(dup)
		return nil, fmt.Errorf("maps.FromFD(%d): %w", fd, err)
	}
	return m, nil
}

// fromOwnedFD builds an FDMap that takes ownership of fd (it is not closed on error).
func fromOwnedFD(fd int) (*FDMap, error) {
	mi, err := sys.ObjMapInfo(fd)
	if err != nil {
		return nil, fmt.Errorf("reading map info: %w", err)
	}
	name, _, _ := bytes.Cut(mi.Name[:], []byte{0})
	info := Info{
		Name:       string(name),
		Type:       ebpf.MapType(mi.Type),
		KeySize:    mi.KeySize,
		ValueSize:  mi.ValueSize,
		MaxEntries: mi.MaxEntries,
		Flags:      mi.MapFlags,
	}
	if mi.BTFID != 0 && (mi.BTFKeyTypeID != 0 || mi.BTFValueTypeID != 0) {
		h, err := btf.NewHandleFromID(btf.ID(mi.BTFID))
		if err != nil {
			return nil, fmt.Errorf("map %q: opening BTF %d: %w", info.Name, mi.BTFID, err)
		}
		spec, err := h.Spec(nil)
		h.Close()
		if err != nil {
			return nil, fmt.Errorf("map %q: reading BTF %d: %w", info.Name, mi.BTFID, err)
		}
		if mi.BTFKeyTypeID != 0 {
			if info.Key, err = spec.TypeByID(btf.TypeID(mi.BTFKeyTypeID)); err != nil {
				return nil, fmt.Errorf("map %q: BTF key type: %w", info.Name, err)
			}
		}
		if mi.BTFValueTypeID != 0 {
			if info.Value, err = spec.TypeByID(btf.TypeID(mi.BTFValueTypeID)); err != nil {
				return nil, fmt.Errorf("map %q: BTF value type: %w", info.Name, err)
			}
		}
	}
	m := &FDMap{info: info}
	m.slot.Init(func() error { return fmt.Errorf("map %q: %w", m.info.Name, ErrClosed) })
	m.slot.Set(sys.NewFD(fd))
	return m, nil
}

// FD returns the map's descriptor, or ErrClosed after Close. The descriptor stays valid
// until Close, which a caller using it in its own system calls must not run at the same
// time: the accessors of this package are safe against that, a bare descriptor is not.
func (m *FDMap) FD() (int, error) {
	if m.slot.Load().Closed() {
		return -1, m.slot.Err()
	}
	return m.slot.Load().Raw(), nil
}

// Info returns the map's type, sizes, flags and BTF types (an error after Close).
func (m *FDMap) Info() (Info, error) {
	if m.slot.Load().Closed() {
		return Info{}, m.slot.Err()
	}
	return m.info, nil
}

// ID returns the map's kernel ID.
func (m *FDMap) ID() (uint32, error) {
	f := m.slot.Load()
	fd, ok := f.Acquire()
	if !ok {
		return 0, m.slot.Err()
	}
	defer f.Release()
	id, err := sys.ObjID(fd)
	if err != nil {
		return 0, fmt.Errorf("map %q: reading map info: %w", m.info.Name, err)
	}
	return id, nil
}

// Close closes the readers made from the map, waits for the operations in flight on it
// and closes the descriptor. It is idempotent and nil-safe.
func (m *FDMap) Close() error {
	if m == nil {
		return nil
	}
	if err := m.slot.Load().Close(); err != nil {
		return fmt.Errorf("closing map %q: %w", m.info.Name, err)
	}
	return nil
}
