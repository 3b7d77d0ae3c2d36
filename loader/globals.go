// SPDX-License-Identifier: Apache-2.0

package loader

// #include <stdlib.h>
// #include <bpf/libbpf.h>
import "C"

import (
	"bytes"
	elfpkg "debug/elf"
	"errors"
	"fmt"
	"reflect"
	"slices"
	"unsafe"

	"github.com/cilium/ebpf/btf"

	"github.com/bpfkit/bpfkit/internal/sys"
)

// global is one variable of a global-data section, located through the section's BTF
// DATASEC.
type global struct {
	name    string
	m       *Map
	section string
	offset  uint32
	size    uint32
	typ     btf.Type
}

// indexGlobals ties the DATASEC of each global-data section (.bss, .data, .rodata and
// their named sub-sections, as the ELF section headers list them) to its libbpf map and
// records where each variable lives. Only those DATASECs are read: the others (.ksyms,
// .kconfig, .maps) are libbpf's business.
func (o *Object) indexGlobals(f *elfpkg.File) error {
	o.globals = map[string]*global{}
	if o.spec == nil || f == nil {
		return nil
	}
	for _, sec := range f.Sections {
		if !sys.IsGlobalDataSection(sec.Name) {
			continue
		}
		var ds *btf.Datasec
		if err := o.spec.TypeByName(sec.Name, &ds); err != nil {
			if errors.Is(err, btf.ErrNotFound) {
				continue // no variable in it (string literals …), or no line in BTF
			}
			return fmt.Errorf("reading BTF of section %s: %w", sec.Name, err)
		}
		cname := C.CString(ds.Name)
		cm := C.bpf_object__find_map_by_name(o.cobj, cname) // matches ".bss" as libbpf's real name
		C.free(unsafe.Pointer(cname))
		if cm == nil {
			continue // e.g. an empty section libbpf made no map for
		}
		var m *Map
		for _, cand := range o.maps {
			if cand.cm == cm {
				m = cand
			}
		}
		if m == nil || m.datasec != nil {
			continue
		}
		m.section, m.datasec = ds.Name, ds
		for _, vs := range ds.Vars {
			v, ok := vs.Type.(*btf.Var)
			if !ok {
				continue
			}
			o.globals[v.Name] = &global{name: v.Name, m: m, section: ds.Name, offset: vs.Offset, size: vs.Size, typ: v.Type}
		}
	}
	return nil
}

// lookupGlobal finds a global variable by name; the error lists those that exist.
func (o *Object) lookupGlobal(name string) (*global, error) {
	if g, ok := o.globals[name]; ok {
		return g, nil
	}
	names := make([]string, 0, len(o.globals))
	for n := range o.globals {
		names = append(names, n)
	}
	slices.Sort(names)
	if o.spec == nil {
		return nil, fmt.Errorf("%s has no BTF, so its globals cannot be found (compile it with clang -g): %w", o.name, ErrNotFound)
	}
	return nil, notFound(o.name, "global variable", name, names)
}

// SetGlobal sets the global variable name (in .bss, .data, .rodata or a named
// sub-section) to value, like `skel->bss->my_pid = getpid()` in C.
//
// value must be fixed-size plain data (int32, uint64, [16]byte, a struct of such fields
// …) laid out like the variable's BTF type: the same size, and each field at the offset
// of its C member (else the error wraps ErrLayout and names the first field that
// differs): SetGlobal("my_pid", int32(os.Getpid())) for an `int my_pid`. Before Load any
// section can be set; after Load, .bss and .data are written in place in the map's
// memory, which the loader maps once and which MapSection points into (the running
// programs see the new value), and .rodata returns ErrReadOnly. SetSection writes a whole
// section at once. SetGlobal and SetSection may race with Global and ReadSection: each
// copy is whole.
func (o *Object) SetGlobal(name string, value any) error {
	if err := o.usable(); err != nil {
		return err
	}
	g, err := o.lookupGlobal(name)
	if err != nil {
		return err
	}
	b, err := g.valueBytes(value)
	if err != nil {
		return fmt.Errorf("setting global %q of %s: %w", name, o.name, err)
	}
	return o.whileOpen(func() error {
		if o.loaded && sys.IsReadOnlySection(g.section) {
			return fmt.Errorf("setting global %q of %s: %s is frozen by the kernel once loaded: %w", name, o.name, g.section, ErrReadOnly)
		}
		mem, err := g.memory()
		if err != nil {
			return fmt.Errorf("setting global %q of %s: %w", name, o.name, err)
		}
		o.memMu.Lock()
		copy(mem, b)
		o.memMu.Unlock()
		return nil
	})
}

// Global reads the global variable name into ptr, a pointer to a fixed-size value of
// the variable's size. Before Load it reads the initial value; after Load the value the
// programs see now, from the same memory as SetGlobal and MapSection.
func (o *Object) Global(name string, ptr any) error {
	if err := o.usable(); err != nil {
		return err
	}
	g, err := o.lookupGlobal(name)
	if err != nil {
		return err
	}
	rv := reflect.ValueOf(ptr)
	if rv.Kind() != reflect.Pointer || rv.IsNil() {
		return fmt.Errorf("reading global %q of %s: need a non-nil pointer, got %T", name, o.name, ptr)
	}
	if err := g.checkType(rv.Type().Elem()); err != nil {
		return fmt.Errorf("reading global %q of %s: %w", name, o.name, err)
	}
	return o.whileOpen(func() error {
		mem, err := g.memory()
		if err != nil {
			return fmt.Errorf("reading global %q of %s: %w", name, o.name, err)
		}
		o.memMu.RLock()
		copy(unsafe.Slice((*byte)(rv.UnsafePointer()), g.size), mem)
		o.memMu.RUnlock()
		return nil
	})
}

// memory returns the variable's bytes (see Map.memory: before load libbpf's initial
// value, after load the map's own memory). The caller runs it under Object.whileOpen.
func (g *global) memory() ([]byte, error) {
	mem, err := g.m.memory()
	if err != nil {
		return nil, err
	}
	if uint64(g.offset)+uint64(g.size) > uint64(len(mem)) {
		return nil, fmt.Errorf("variable at %d+%d lies outside map %q of %d bytes", g.offset, g.size, g.m.name, len(mem))
	}
	return mem[g.offset : g.offset+g.size : g.offset+g.size], nil
}

// valueBytes checks value against the variable's BTF type (sys.CheckLayout: plain data,
// same size, same field offsets) and returns a copy of its memory, which is then its C
// representation.
func (g *global) valueBytes(value any) ([]byte, error) {
	if value == nil {
		return nil, fmt.Errorf("value is nil")
	}
	rv := reflect.ValueOf(value)
	if err := g.checkType(rv.Type()); err != nil {
		return nil, err
	}
	tmp := reflect.New(rv.Type())
	tmp.Elem().Set(rv)
	return bytes.Clone(unsafe.Slice((*byte)(tmp.UnsafePointer()), rv.Type().Size())), nil
}

// checkType checks a Go type against the variable's BTF type.
func (g *global) checkType(t reflect.Type) error {
	if err := sys.CheckLayout(t, g.typ); err != nil {
		return fmt.Errorf("the variable is %d bytes (%s): %w", g.size, typeName(g.typ), err)
	}
	return nil
}

// typeName describes a BTF type for messages, e.g. "int" or "struct config".
func typeName(t btf.Type) string {
	if t == nil {
		return "unknown type"
	}
	t = btf.UnderlyingType(t)
	switch t := t.(type) {
	case *btf.Struct:
		return "struct " + t.Name
	case *btf.Union:
		return "union " + t.Name
	case *btf.Array:
		return fmt.Sprintf("array of %d %s", t.Nelems, typeName(t.Type))
	}
	if n := t.TypeName(); n != "" {
		return n
	}
	return fmt.Sprintf("%T", t)
}
