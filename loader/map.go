package loader

// #include <bpf/libbpf.h>
import "C"

import (
	"fmt"
	"sync"

	"github.com/aquasecurity/libbpfgo"
	"github.com/cilium/ebpf/btf"

	"github.com/bpfkit/bpfkit/maps"
)

// Map is one map of an Object: libbpf's struct bpf_map. It implements maps.Map, so the
// typed accessors of package maps work on it. It is valid until its Object is closed;
// afterwards its methods return ErrClosed.
type Map struct {
	obj     *Object
	bm      *libbpfgo.BPFMap
	cm      *C.struct_bpf_map
	name    string       // libbpf's name, as the kernel sees it
	section string       // for global data: the ELF section (".bss", ".data.foo"); else ""
	datasec *btf.Datasec // for global data: the section's BTF
	fd      int          // set by Load

	mmapOnce sync.Once      // global data: the kernel map's memory, mapped on first use after load
	mem      *sectionMemory // that mapping, over Go heap memory (sectionmem.go); nil once detached
	mmapErr  error
}

func newMap(o *Object, bm *libbpfgo.BPFMap) (*Map, error) {
	ptr, err := cPointer(bm, "bpfMap")
	if err != nil {
		return nil, err
	}
	return &Map{obj: o, bm: bm, cm: (*C.struct_bpf_map)(ptr), name: bm.Name(), fd: -1}, nil
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

// Type returns the map's kernel type; maps.TypeUnspec once the object is closed.
func (m *Map) Type() maps.Type {
	var t maps.Type
	_ = m.withC(func() { t = maps.Type(C.bpf_map__type(m.cm)) })
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
		return m.bm.SetMaxEntries(n)
	})
}

// FD returns the map's file descriptor, owned by the Object: ErrNotLoaded before Load,
// ErrClosed after Close. It is cheap enough to call before every operation.
func (m *Map) FD() (int, error) {
	if err := m.usable(); err != nil {
		return -1, err
	}
	if m.fd < 0 {
		return -1, fmt.Errorf("map %q of %s: %w", m.name, m.obj.name, ErrNotLoaded)
	}
	return m.fd, nil
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
			Type:       maps.Type(C.bpf_map__type(m.cm)),
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

// Pin pins the map on bpffs at path (bpf_map__pin); the pin outlives the Object.
func (m *Map) Pin(path string) error {
	op := fmt.Sprintf("pinning map %q of %s", m.name, m.obj.name)
	return m.obj.afterLoad(op, m.FD, func() error { return m.bm.Pin(path) })
}

// Unpin removes the map's pin at path (bpf_map__unpin).
func (m *Map) Unpin(path string) error {
	op := fmt.Sprintf("unpinning map %q of %s", m.name, m.obj.name)
	return m.obj.afterLoad(op, m.FD, func() error { return m.bm.Unpin(path) })
}
