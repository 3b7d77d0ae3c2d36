package maps

import (
	"bytes"
	"fmt"
	"sync/atomic"

	"github.com/cilium/ebpf/btf"
	"golang.org/x/sys/unix"
)

// FDMap is a Map known only by its file descriptor: one made by FromFD, or an inner map
// returned by HashOfMaps.Lookup. It owns its descriptor (a duplicate): Close it.
type FDMap struct {
	fd   atomic.Int64 // -1 once closed
	info Info
}

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
	mi, err := objMapInfo(fd)
	if err != nil {
		return nil, fmt.Errorf("reading map info: %w", err)
	}
	name, _, _ := bytes.Cut(mi.name[:], []byte{0})
	info := Info{
		Name:       string(name),
		Type:       Type(mi.typ),
		KeySize:    mi.keySize,
		ValueSize:  mi.valueSize,
		MaxEntries: mi.maxEntries,
		Flags:      mi.mapFlags,
	}
	if mi.btfID != 0 && (mi.btfKeyTypeID != 0 || mi.btfValueTypeID != 0) {
		h, err := btf.NewHandleFromID(btf.ID(mi.btfID))
		if err != nil {
			return nil, fmt.Errorf("map %q: opening BTF %d: %w", info.Name, mi.btfID, err)
		}
		spec, err := h.Spec(nil)
		h.Close()
		if err != nil {
			return nil, fmt.Errorf("map %q: reading BTF %d: %w", info.Name, mi.btfID, err)
		}
		if mi.btfKeyTypeID != 0 {
			if info.Key, err = spec.TypeByID(btf.TypeID(mi.btfKeyTypeID)); err != nil {
				return nil, fmt.Errorf("map %q: BTF key type: %w", info.Name, err)
			}
		}
		if mi.btfValueTypeID != 0 {
			if info.Value, err = spec.TypeByID(btf.TypeID(mi.btfValueTypeID)); err != nil {
				return nil, fmt.Errorf("map %q: BTF value type: %w", info.Name, err)
			}
		}
	}
	m := &FDMap{info: info}
	m.fd.Store(int64(fd))
	return m, nil
}

// FD returns the map's descriptor, or ErrClosed after Close.
func (m *FDMap) FD() (int, error) {
	fd := m.fd.Load()
	if fd < 0 {
		return -1, fmt.Errorf("map %q: %w", m.info.Name, ErrClosed)
	}
	return int(fd), nil
}

// Info returns the map's type, sizes, flags and BTF types (an error after Close).
func (m *FDMap) Info() (Info, error) {
	if _, err := m.FD(); err != nil {
		return Info{}, err
	}
	return m.info, nil
}

// ID returns the map's kernel ID.
func (m *FDMap) ID() (uint32, error) {
	fd, err := m.FD()
	if err != nil {
		return 0, err
	}
	mi, err := objMapInfo(fd)
	if err != nil {
		return 0, fmt.Errorf("map %q: reading map info: %w", m.info.Name, err)
	}
	return mi.id, nil
}

// Close closes the descriptor. It is idempotent and nil-safe.
func (m *FDMap) Close() error {
	if m == nil {
		return nil
	}
	fd := m.fd.Swap(-1)
	if fd < 0 {
		return nil
	}
	if err := unix.Close(int(fd)); err != nil {
		return fmt.Errorf("closing map %q: %w", m.info.Name, err)
	}
	return nil
}
