// SPDX-License-Identifier: Apache-2.0

package loader

// #include <bpf/libbpf.h>
import "C"

import (
	"fmt"
	"sync"
	"syscall"

	"github.com/cilium/ebpf"
	"github.com/cilium/ebpf/btf"

	"github.com/bpfkit/bpfkit/internal/sys"
	"github.com/bpfkit/bpfkit/maps"
)

// Map is one map of an Object: libbpf's struct bpf_map. It implements maps.Map, so the
// typed accessors of package maps work on it. It is valid until its Object is closed;
// afterwards its methods return ErrClosed.
type Map struct {
	slot    // the map's descriptor once loaded, under the lifetime rule (sys.FD)
	obj     *Object
	cm      *C.struct_bpf_map
	name    string       // libbpf's name, as the kernel sees it
	section string       // for global data: the ELF section (".bss", ".data.foo"); else ""
	datasec *btf.Datasec // for global data: the section's BTF
	pins    pins         // where Pin pinned it

	mmapOnce sync.Once      // global data: the kernel map's memory, mapped on first use after load
	mem      *sectionMemory // that mapping, over Go heap memory (sectionmem.go); nil once detached
	mmapErr  error
}

func newMap(o *Object, cm *C.struct_bpf_map) *Map {
	m := &Map{obj: o, cm: cm, name: C.GoString(C.bpf_map__name(cm))}
	m.slot.Init(m.noFD)
	return m
}

// slot is sys.Slot under a lower-case name, so that embedding it adds no exported field.
type slot = sys.Slot

// noFD explains why the map has no usable descriptor: its object is closed, or not
// loaded yet.
func (m *Map) noFD() error {
	if err := m.usable(); err != nil {
		return err
	}
	return fmt.Errorf("map %q of %s: %w", m.name, m.obj.name, ErrNotLoaded)
}

// Name returns the map's name: its C variable name, or for global data libbpf's name
// (the object name's first 8 characters and the section, e.g. "minimal.bss").
func (m *Map) Name() string { return m.name }

// Section returns the ELF section of a global-data map (".bss", ".data", ".rodata",
// ".data.foo" …), or "" for a map defined in SEC(".maps").
func (m *Map) Section() string { return m.section }

func (m *Map) usable() error {
	if m == nil {
		return fmt.Errorf("nil *loader.Map: %w", ErrClosed)
	}
	if m.obj.closed.Load() {
		return fmt.Errorf("map %q of %s: %w", m.name, m.obj.name, ErrClosed)
	}
	return nil
}

// withC runs fn, which reads the map through libbpf, while the object is open.
func (m *Map) withC(fn func()) error {
	if err := m.usable(); err != nil {
		return err
	}
	return m.obj.whileOpen(func() error { fn(); return nil })
}

// Type returns the map's kernel type (ebpf.Hash, ebpf.Array …); ebpf.UnspecifiedMap
// once the object is closed.
func (m *Map) Type() ebpf.MapType {
	var t ebpf.MapType
	_ = m.withC(func() { t = ebpf.MapType(C.bpf_map__type(m.cm)) })
	return t
}

// KeySize returns the size of the map's key in bytes; 0 once the object is closed.
func (m *Map) KeySize() uint32 {
	var v uint32
	_ = m.withC(func() { v = uint32(C.bpf_map__key_size(m.cm)) })
	return v
}

// ValueSize returns the size of the map's value in bytes; 0 once the object is closed.
func (m *Map) ValueSize() uint32 {
	var v uint32
	_ = m.withC(func() { v = uint32(C.bpf_map__value_size(m.cm)) })
	return v
}

// MaxEntries returns the map's capacity; 0 once the object is closed.
func (m *Map) MaxEntries() uint32 {
	var v uint32
	_ = m.withC(func() { v = uint32(C.bpf_map__max_entries(m.cm)) })
	return v
}

// Flags returns the map's creation flags (BPF_F_*); after Load they include those
// libbpf added, such as BPF_F_MMAPABLE for global data.
func (m *Map) Flags() uint32 {
	var v uint32
	_ = m.withC(func() { v = uint32(C.bpf_map__map_flags(m.cm)) })
	return v
}

// SetMaxEntries sets the map's capacity before Load (bpf_map__set_max_entries); after
// Load it returns ErrAlreadyLoaded.
func (m *Map) SetMaxEntries(n uint32) error {
	if err := m.usable(); err != nil {
		return err
	}
	op := fmt.Sprintf("setting max entries of map %q of %s", m.name, m.obj.name)
	return m.obj.beforeLoad(op, func() error {
		if n == 0 {
			return fmt.Errorf("must be > 0")
		}
		if rc := C.bpf_map__set_max_entries(m.cm, C.__u32(n)); rc < 0 {
			return libbpfErrno(syscall.Errno(-rc))
		}
		return nil
	})
}

// FD returns the map's file descriptor, owned by the Object: ErrNotLoaded before Load,
// ErrClosed after Close. The descriptor is valid until the Object is closed; a caller
// that uses it in system calls of its own must not close the Object meanwhile (the
// accessors of package maps need no such care: Close waits for their operations).
func (m *Map) FD() (int, error) {
	f := m.slot.Load()
	if f == nil || f.Closed() {
		return -1, m.noFD()
	}
	return f.Raw(), nil
}

// Info returns what package maps needs to check a Go type against the map: its type,
// sizes, flags and BTF key and value types (nil when the object has no BTF for them;
// for global data the value is the section's *btf.Datasec).
func (m *Map) Info() (maps.Info, error) {
	var info maps.Info
	var keyID, valueID uint32
	err := m.withC(func() {
		info = maps.Info{
			Name:       m.name,
			Type:       ebpf.MapType(C.bpf_map__type(m.cm)),
			KeySize:    uint32(C.bpf_map__key_size(m.cm)),
			ValueSize:  uint32(C.bpf_map__value_size(m.cm)),
			MaxEntries: uint32(C.bpf_map__max_entries(m.cm)),
			Flags:      uint32(C.bpf_map__map_flags(m.cm)),
		}
		keyID = uint32(C.bpf_map__btf_key_type_id(m.cm))
		valueID = uint32(C.bpf_map__btf_value_type_id(m.cm))
	})
	if err != nil {
		return maps.Info{}, err
	}
	if spec := m.obj.spec; spec != nil {
		info.Key = typeByID(spec, keyID)
		info.Value = typeByID(spec, valueID)
		if info.Value == nil && m.datasec != nil {
			info.Value = m.datasec
		}
	}
	return info, nil
}

func typeByID(spec *btf.Spec, id uint32) btf.Type {
	if id == 0 {
		return nil
	}
	t, err := spec.TypeByID(btf.TypeID(id))
	if err != nil {
		return nil
	}
	return t
}

// Pin pins the map on a BPF file system at path (BPF_OBJ_PIN); the pin outlives the
// Object until Unpin or its removal. Missing directories are created, but only inside a
// BPF file system: a path elsewhere fails before anything is created, and a failed pin
// leaves nothing behind.
func (m *Map) Pin(path string) error {
	op := fmt.Sprintf("pinning map %q of %s at %s", m.name, m.obj.name, path)
	f, err := m.slot.FD()
	if err != nil {
		return fmt.Errorf("%s: %w", op, err)
	}
	if err := m.pins.pin(f, path); err != nil {
		return fmt.Errorf("%s: %w", op, err)
	}
	return nil
}

// Unpin removes the pin at path that Pin made. It removes nothing else: a path this map
// was not pinned at through this handle gives ErrNotFound, and a pin that another
// object has replaced since is left in place with an error.
func (m *Map) Unpin(path string) error {
	op := fmt.Sprintf("unpinning map %q of %s at %s", m.name, m.obj.name, path)
	f, err := m.slot.FD()
	if err != nil {
		return fmt.Errorf("%s: %w", op, err)
	}
	if err := m.pins.unpin(f, sys.KindMap, path); err != nil {
		return fmt.Errorf("%s: %w", op, err)
	}
	return nil
}
