// SPDX-License-Identifier: Apache-2.0

package loader

import (
	"fmt"
	"reflect"
	"slices"
	"unsafe"

	"github.com/cilium/ebpf/btf"

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
// The section's static variables (bpf_printk's format strings, static locals, file-scope
// statics) may be left to blank fields, as generated skeletons do: SetSection then keeps
// their bytes as they are, so a program's own state survives a write of the section.
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
		src := unsafe.Slice((*byte)(rv.Addr().UnsafePointer()), rv.Type().Size())
		kept := unexposedStatics(rv.Type(), m.datasec)
		o.memMu.Lock()
		if len(kept) == 0 {
			copy(mem, src)
		} else {
			copyAround(mem, src, kept)
		}
		o.memMu.Unlock()
		return nil
	})
}

// span is a byte range of a section: [off, end).
type span struct{ off, end int }

// unexposedStatics lists the static variables of a section that Go type t leaves to
// blank (_) padding rather than holding in a field of their own (sys.CheckLayout allows
// both): SetSection keeps their bytes as they are. A generated skeleton never exposes
// them: they are the object's own (bpf_printk's format strings, a function's static
// locals, file-scope statics), and a program may have changed them since load.
func unexposedStatics(t reflect.Type, ds *btf.Datasec) []span {
	var kept []span
	for _, vs := range ds.Vars {
		v, ok := vs.Type.(*btf.Var)
		if !ok || v.Linkage != btf.StaticVar || vs.Size == 0 {
			continue
		}
		if t.Kind() == reflect.Struct && heldByField(t, uintptr(vs.Offset)) {
			continue
		}
		kept = append(kept, span{int(vs.Offset), int(vs.Offset + vs.Size)})
	}
	return kept
}

// heldByField reports whether struct t has a named (non-blank) field at offset off.
func heldByField(t reflect.Type, off uintptr) bool {
	for i := range t.NumField() {
		if f := t.Field(i); f.Offset == off && f.Name != "_" && f.Type.Size() > 0 {
			return true
		}
	}
	return false
}

// copyAround copies src over dst (as copy does) except the kept ranges of dst.
func copyAround(dst, src []byte, kept []span) {
	n := min(len(dst), len(src))
	at := 0
	for _, k := range kept {
		off, end := min(k.off, n), min(k.end, n)
		if off > at {
			copy(dst[at:off], src[at:off])
		}
		at = max(at, end)
	}
	if at < n {
		copy(dst[at:n], src[at:n])
	}
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
// use too. A section's static variables lie under T's blank (_) fields: assign T's fields
// one by one, as a whole-struct assignment (*p = v) writes the blanks over them too.
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
