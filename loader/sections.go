// SPDX-License-Identifier: Apache-2.0

package loader

import (
	"fmt"
	"reflect"
	"slices"
	"unsafe"

	"github.com/bpfkit/bpfkit/internal/sys"
)

// SetSection writes the whole global-data section (".bss", ".data", ".rodata",
// ".data.foo", ".rodata.bar" …) from value, a struct or a pointer to one whose fields
// mirror the section's variables at their offsets, with blank (_) fields for the padding
// between them; a section of one variable also takes that variable's type. The layout is
// checked against the section's BTF (ErrLayout when it differs); the struct may be up to its
// alignment-1 bytes bigger than the section, because Go rounds a struct's size up to its
// alignment where C does not round a section, and only the section's bytes are copied.
//
// Before Load it sets the initial value of every section, like SetGlobal; after Load it
// writes .bss and .data in place, in the memory the programs use (MapSection's memory),
// and returns ErrReadOnly for the frozen .rodata sections. An unknown section gives
// ErrNotFound, listing the sections that exist.
func (o *Object) SetSection(section string, value any) error {
	if o == nil {
		return fmt.Errorf("nil *loader.Object: %w", ErrClosed)
	}
	op := fmt.Sprintf("setting section %q of %s", section, o.name)
	rv := reflect.ValueOf(value)
	if value == nil || (rv.Kind() == reflect.Pointer && rv.IsNil()) {
		return fmt.Errorf("%s: value is nil", op)
	}
	if rv.Kind() == reflect.Pointer {
		rv = rv.Elem()
	} else {
		tmp := reflect.New(rv.Type()) // addressable, so its bytes can be copied
		tmp.Elem().Set(rv)
		rv = tmp.Elem()
	}
	return o.inSection(op, section, func(m *Map) error {
		if err := m.checkSection(rv.Type()); err != nil {
			return err
		}
		if o.loaded && sys.IsReadOnlySection(section) {
			return fmt.Errorf("%s is frozen by the kernel once loaded: %w", section, ErrReadOnly)
		}
		mem, err := m.sectionBytes()
		if err != nil {
			return err
		}
		o.memMu.Lock()
		copy(mem, unsafe.Slice((*byte)(rv.Addr().UnsafePointer()), rv.Type().Size()))
		o.memMu.Unlock()
		return nil
	})
}

// ReadSection reads the whole global-data section into ptr, a non-nil pointer to a
// struct laid out as for SetSection: before Load its initial value, after Load what the
// kernel's map holds now. Bytes of the struct beyond the section's size are zeroed.
func (o *Object) ReadSection(section string, ptr any) error {
	if o == nil {
		return fmt.Errorf("nil *loader.Object: %w", ErrClosed)
	}
	op := fmt.Sprintf("reading section %q of %s", section, o.name)
	rv := reflect.ValueOf(ptr)
	if rv.Kind() != reflect.Pointer || rv.IsNil() {
		return fmt.Errorf("%s: need a non-nil pointer, got %T", op, ptr)
	}
	t := rv.Type().Elem()
	return o.inSection(op, section, func(m *Map) error {
		if err := m.checkSection(t); err != nil {
			return err
		}
		mem, err := m.sectionBytes()
		if err != nil {
			return err
		}
		dst := unsafe.Slice((*byte)(rv.UnsafePointer()), t.Size())
		o.memMu.RLock()
		clear(dst[copy(dst, mem):])
		o.memMu.RUnlock()
		return nil
	})
}

// MapSection returns a pointer to the loaded .bss or .data section (or a named
// sub-section such as ".data.foo") whose memory is the kernel map's memory: a field
// written through it is seen by the programs, and what they write is seen through it,
// with no copy and no system call. T is laid out as for SetSection. Every call for a
// section returns the same memory, which SetGlobal, Global, SetSection and ReadSection
// use too.
//
// It needs a loaded object (ErrNotLoaded before Load) and a writable section: .rodata
// sections are frozen at Load (ErrReadOnly; read them with ReadSection). After Close it
// returns ErrClosed.
//
// The pointer stays valid forever and never faults. The memory belongs to the Go heap;
// Close replaces the kernel's mapping by ordinary memory holding the last values, so a
// pointer kept past Close reads those and may be written, but no longer reaches the
// kernel (and the map is freed). Accesses racing with Close may see zeros for a moment
// or be lost. As with any memory shared with running programs, concurrent access from
// Go and BPF is not synchronized: use atomic operations (sync/atomic on the field's
// address, __sync_* in C) or a protocol of your own where that matters.
func MapSection[T any](o *Object, section string) (*T, error) {
	if o == nil {
		return nil, fmt.Errorf("nil *loader.Object: %w", ErrClosed)
	}
	op := fmt.Sprintf("mapping section %q of %s", section, o.name)
	t := reflect.TypeFor[T]()
	var p *T
	err := o.inSection(op, section, func(m *Map) error {
		if !o.loaded {
			return ErrNotLoaded
		}
		if sys.IsReadOnlySection(section) {
			return fmt.Errorf("%s is frozen by the kernel once loaded (read it with ReadSection): %w", section, ErrReadOnly)
		}
		if err := m.checkSection(t); err != nil {
			return err
		}
		mem, err := m.mapped()
		if err != nil {
			return err
		}
		// A checked T is at most alignment-1 bytes bigger than the section, hence no
		// bigger than the page-rounded mapping; the pointer must not reach past it.
		if t.Size() > uintptr(len(mem)) {
			return fmt.Errorf("the Go type %s is %d bytes, more than the %d bytes mapped", t, t.Size(), len(mem))
		}
		p = (*T)(unsafe.Pointer(unsafe.SliceData(mem)))
		return nil
	})
	if err != nil {
		return nil, err
	}
	return p, nil
}

// inSection runs fn on the map of section while the object is open (whileOpen); op names
// the operation and the section, for errors.
func (o *Object) inSection(op, section string, fn func(*Map) error) error {
	err := o.whileOpen(func() error {
		m, err := o.sectionMap(section)
		if err != nil {
			return err
		}
		return fn(m)
	})
	if err != nil {
		return fmt.Errorf("%s: %w", op, err)
	}
	return nil
}

// sectionMap finds the map of a global-data section; the error lists those that exist.
func (o *Object) sectionMap(section string) (*Map, error) {
	var names []string
	for _, m := range o.maps {
		if m.datasec == nil {
			continue
		}
		if m.section == section {
			return m, nil
		}
		names = append(names, m.section)
	}
	if o.spec == nil {
		return nil, fmt.Errorf("%s has no BTF, so its section %q cannot be laid out (compile it with clang -g): %w", o.name, section, ErrNotFound)
	}
	slices.Sort(names)
	return nil, notFound(o.name, "global-data section", section, names)
}

// checkSection checks Go type t against the section's DATASEC with sys.CheckLayout
// (which allows the struct Go's trailing padding beyond the section).
func (m *Map) checkSection(t reflect.Type) error {
	if err := sys.CheckLayout(t, m.datasec); err != nil {
		return fmt.Errorf("the section is %d bytes: %w", m.datasec.Size, err)
	}
	return nil
}

// sectionBytes returns the section's bytes (see Map.memory). The caller runs it under
// the object's read lock.
func (m *Map) sectionBytes() ([]byte, error) {
	mem, err := m.memory()
	if err != nil {
		return nil, err
	}
	size := int(m.datasec.Size)
	if len(mem) < size {
		return nil, fmt.Errorf("map %q holds %d bytes, its section %d", m.name, len(mem), size)
	}
	return mem[:size:size], nil
}
