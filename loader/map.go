// SPDX-License-Identifier: Apache-2.0

package loader

// #include <bpf/libbpf.h>
import "C"

import (
	"fmt"
	"os"
	"sync"
	"syscall"

	"github.com/cilium/ebpf"
	"github.com/cilium/ebpf/btf"
	"golang.org/x/sys/unix"

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

	innerFD int // SetInnerMap's duplicate of the inner map's descriptor until Load; -1 if none

	kernelOnce  sync.Once // after Load: the BTF types the kernel has for the map (Info)
	kernelKey   btf.Type
	kernelValue btf.Type
	kernelErr   error
}

func newMap(o *Object, cm *C.struct_bpf_map) *Map {
	m := &Map{obj: o, cm: cm, name: C.GoString(C.bpf_map__name(cm)), innerFD: -1}
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

// Setters before Load. libbpf creates the maps at Load from its definition of each,
// which these change, like the bpf_map__set_* calls of a C loader. Each checks what it
// can before the kernel sees it; all return ErrAlreadyLoaded after Load and ErrClosed
// after Close. A global-data map (.bss, .data, .rodata …) is laid out by its section and
// cannot be changed (ErrNotSupported).

// SetMaxEntries sets the map's capacity (bpf_map__set_max_entries): the number of
// stack traces a BPF_MAP_TYPE_STACK_TRACE keeps, the size in bytes of a ring buffer (a
// power of 2 and a multiple of the page size) ….
func (m *Map) SetMaxEntries(n uint32) error {
	return m.set("max entries", func(t ebpf.MapType) error {
		switch {
		case n == 0 && t != ebpf.PerfEventArray: // 0: one per CPU, libbpf's default
			return fmt.Errorf("must be > 0")
		case (t == ebpf.RingBuf || t == ebpf.UserRingbuf) && (n&(n-1) != 0 || n%uint32(os.Getpagesize()) != 0):
			return fmt.Errorf("a ring buffer's size must be a power of 2 and a multiple of the page size (%d), not %d", os.Getpagesize(), n)
		}
		return libbpfRC(C.bpf_map__set_max_entries(m.cm, C.__u32(n)))
	})
}

// SetValueSize sets the size in bytes of the map's values (bpf_map__set_value_size),
// for example of a stack-trace map: its depth times 8. A map whose BTF value type has
// another size is then created without BTF types (libbpf's rule), and Info reports none.
func (m *Map) SetValueSize(n uint32) error {
	return m.set("value size", func(t ebpf.MapType) error {
		if err := checkValueSize(t, n); err != nil {
			return err
		}
		return libbpfRC(C.bpf_map__set_value_size(m.cm, C.__u32(n)))
	})
}

// SetKeySize sets the size in bytes of the map's keys (bpf_map__set_key_size). A map
// whose BTF key type has another size is then created without BTF types.
func (m *Map) SetKeySize(n uint32) error {
	return m.set("key size", func(t ebpf.MapType) error {
		if err := checkKeySize(t, n); err != nil {
			return err
		}
		return libbpfRC(C.bpf_map__set_key_size(m.cm, C.__u32(n)))
	})
}

// SetType sets the map's kernel type (bpf_map__set_type), e.g. ebpf.LRUHash for a map
// declared as a hash. The sizes must suit the new type (the kernel checks them at Load).
func (m *Map) SetType(t ebpf.MapType) error {
	return m.set("type", func(ebpf.MapType) error {
		if t == ebpf.UnspecifiedMap || uint32(t) > 255 {
			return fmt.Errorf("%d is not a Linux map type", uint32(t))
		}
		return libbpfRC(C.bpf_map__set_type(m.cm, uint32(t)))
	})
}

// SetFlags sets the map's creation flags, BPF_F_* (bpf_map__set_map_flags), replacing
// those the object declared: BPF_F_NO_PREALLOC, BPF_F_RDONLY_PROG ….
func (m *Map) SetFlags(flags uint32) error {
	return m.set("flags", func(ebpf.MapType) error {
		return libbpfRC(C.bpf_map__set_map_flags(m.cm, C.__u32(flags)))
	})
}

// SetInnerMap gives a map of maps (ebpf.ArrayOfMaps, ebpf.HashOfMaps) declared without
// __array(values, …) the map its inner maps are modelled on (bpf_map__set_inner_map_fd):
// a loaded map of this or another Object, or a *maps.FDMap. The kernel takes the inner
// maps' type, sizes and flags from it at Load; the outer map keeps a duplicate of its
// descriptor until then. It can be set once.
func (m *Map) SetInnerMap(inner maps.Map) error {
	if inner == nil {
		return fmt.Errorf("setting inner map of map %q of %s: nil inner map", m.name, m.obj.name)
	}
	return m.set("inner map", func(t ebpf.MapType) error {
		if t != ebpf.ArrayOfMaps && t != ebpf.HashOfMaps {
			return fmt.Errorf("map %q is a %s, not a map of maps", m.name, t)
		}
		if m.innerFD >= 0 {
			return fmt.Errorf("already set (libbpf takes one)")
		}
		f, err := sys.SlotOf(inner).FD()
		if err != nil {
			return fmt.Errorf("the inner map: %w", err)
		}
		fd, ok := f.Acquire()
		if !ok {
			return fmt.Errorf("the inner map: %w", ErrClosed)
		}
		dup, err := unix.FcntlInt(uintptr(fd), unix.F_DUPFD_CLOEXEC, 3)
		f.Release()
		if err != nil {
			return fmt.Errorf("duplicating the inner map's descriptor: %w", err)
		}
		if err := libbpfRC(C.bpf_map__set_inner_map_fd(m.cm, C.int(dup))); err != nil {
			unix.Close(dup)
			return err
		}
		m.innerFD = dup
		return nil
	})
}

// set runs fn, which changes the map's definition before Load, under the object's
// write lock; what names the setting, for errors. fn gets the map's current type.
func (m *Map) set(what string, fn func(ebpf.MapType) error) error {
	if err := m.usable(); err != nil {
		return err
	}
	op := fmt.Sprintf("setting %s of map %q of %s", what, m.name, m.obj.name)
	return m.obj.beforeLoad(op, func() error {
		if m.datasec != nil || C.bpf_map__is_internal(m.cm) {
			return fmt.Errorf("a global-data map is laid out by its section: %w", ErrNotSupported)
		}
		var err error
		out := withLibbpf(&m.obj.sink, func() { err = fn(ebpf.MapType(C.bpf_map__type(m.cm))) })
		if err != nil {
			d, ok := out.diagnose()
			m.obj.sink.emit(out, out.failureSaid(d, ok))
			if ok {
				return fmt.Errorf("%s: %w", d.words, err)
			}
			return err
		}
		m.obj.sink.emit(out, nil)
		return nil
	})
}

// libbpfRC turns a libbpf return code (0, or a negative errno) into an error.
func libbpfRC(rc C.int) error {
	if rc < 0 {
		return libbpfErrno(syscall.Errno(-rc))
	}
	return nil
}

// checkKeySize checks a key size against what the kernel requires of the map type.
func checkKeySize(t ebpf.MapType, n uint32) error {
	switch t {
	case ebpf.Queue, ebpf.Stack, ebpf.BloomFilter, ebpf.RingBuf, ebpf.UserRingbuf:
		if n != 0 {
			return fmt.Errorf("a %s map has no keys: its key size must be 0, not %d", t, n)
		}
	case ebpf.Array, ebpf.PerCPUArray, ebpf.ProgramArray, ebpf.PerfEventArray, ebpf.ArrayOfMaps,
		ebpf.CGroupArray, ebpf.StackTrace, ebpf.DevMap, ebpf.CPUMap, ebpf.XSKMap:
		if n != 4 {
			return fmt.Errorf("a %s map's keys are 4-byte indexes, not %d bytes", t, n)
		}
	default:
		if n == 0 {
			return fmt.Errorf("must be > 0")
		}
	}
	return nil
}

// checkValueSize checks a value size against what the kernel requires of the map type.
func checkValueSize(t ebpf.MapType, n uint32) error {
	switch t {
	case ebpf.RingBuf, ebpf.UserRingbuf:
		if n != 0 {
			return fmt.Errorf("a ring buffer has no fixed-size values: its value size must be 0, not %d", n)
		}
	case ebpf.StackTrace:
		if n < 8 || n%8 != 0 {
			return fmt.Errorf("a stack-trace map's values are arrays of 8-byte addresses: its value size must be a multiple of 8, not %d", n)
		}
	case ebpf.ProgramArray, ebpf.PerfEventArray, ebpf.ArrayOfMaps, ebpf.HashOfMaps, ebpf.CGroupArray:
		if n != 4 {
			return fmt.Errorf("a %s map's values are 4-byte descriptors or IDs, not %d bytes", t, n)
		}
	default:
		if n == 0 {
			return fmt.Errorf("must be > 0")
		}
	}
	return nil
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
// sizes, flags and BTF key and value types (nil when there are none; for global data
// the value is the section's *btf.Datasec).
//
// Before Load the types are those the object declares (none for a size a setter
// changed). After Load they are the types the kernel holds for the map, read from the
// kernel's BTF of it: for a map libbpf reused, such as one pinned by another build of
// the object (LIBBPF_PIN_BY_NAME, Options.PinRoot), that is the BTF of the object that
// created it, not this object's, whose type IDs may differ.
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
	switch {
	case m.datasec != nil:
		info.Value = m.datasec
	case m.slot.Load() != nil:
		if info.Key, info.Value, err = m.kernelTypes(); err != nil {
			return maps.Info{}, fmt.Errorf("map %q of %s: %w", m.name, m.obj.name, err)
		}
	case m.obj.spec != nil:
		info.Key = sizedType(typeByID(m.obj.spec, keyID), info.KeySize)
		info.Value = sizedType(typeByID(m.obj.spec, valueID), info.ValueSize)
	}
	return info, nil
}

// kernelTypes returns the map's BTF key and value types as the kernel has them, once
// per map: from this object's BTF when the kernel's BTF of the map is the object's (the
// kernel's type IDs are libbpf's, which are the object's), else from the kernel's BTF
// object of the map, loaded by its ID.
func (m *Map) kernelTypes() (key, value btf.Type, err error) {
	m.kernelOnce.Do(func() {
		f, err := m.slot.FD()
		if err != nil {
			m.kernelErr = err
			return
		}
		fd, ok := f.Acquire()
		if !ok {
			m.kernelErr = m.noFD()
			return
		}
		mi, err := sys.ObjMapInfo(fd)
		f.Release()
		if err != nil {
			m.kernelErr = fmt.Errorf("reading its info from the kernel: %w", err)
			return
		}
		if mi.BTFID == 0 || (mi.BTFKeyTypeID == 0 && mi.BTFValueTypeID == 0) {
			return // created without BTF types
		}
		spec, err := m.obj.kernelBTF(mi.BTFID)
		if err != nil {
			m.kernelErr = err
			return
		}
		m.kernelKey = typeByID(spec, mi.BTFKeyTypeID)
		m.kernelValue = typeByID(spec, mi.BTFValueTypeID)
	})
	return m.kernelKey, m.kernelValue, m.kernelErr
}

// sizedType returns t if its size is size, else nil: a BTF type whose size a setter
// changed no longer describes the map (libbpf then creates it without BTF types).
func sizedType(t btf.Type, size uint32) btf.Type {
	if t == nil {
		return nil
	}
	if n, err := btf.Sizeof(t); err != nil || uint32(n) != size {
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

func typeByID(spec *btf.Spec, id uint32) btf.Type {
	if id == 0 || spec == nil {
		return nil
	}
	t, err := spec.TypeByID(btf.TypeID(id))
	if err != nil {
		return nil
	}
	return t
}
