// SPDX-License-Identifier: Apache-2.0

package sys

import (
	"cmp"
	"errors"
	"fmt"
	"reflect"
	"slices"
	"strings"

	"github.com/cilium/ebpf/btf"
)

// ErrLayout is wrapped by every error of the layout check: the Go type is not plain data,
// its size differs, or its layout differs from the BTF type. maps and loader export it
// as their ErrLayout.
var ErrLayout = errors.New("go type does not match the map")

// isSpinLock reports whether t is maps.SpinLock, the Go stand-in of struct bpf_spin_lock
// (recognised by name: this package cannot import maps).
func isSpinLock(t reflect.Type) bool {
	return t.Name() == "SpinLock" && t.PkgPath() == "github.com/bpfkit/bpfkit/maps"
}

// CheckPlain reports the first part of t that is not fixed-size plain data: pointers,
// slices, strings, maps, channels, functions and interfaces cannot be copied to the kernel.
// path prefixes the field names in the error ("" for the type itself).
func CheckPlain(t reflect.Type, path string) error {
	switch t.Kind() {
	case reflect.Bool, reflect.Int8, reflect.Int16, reflect.Int32, reflect.Int64, reflect.Int,
		reflect.Uint8, reflect.Uint16, reflect.Uint32, reflect.Uint64, reflect.Uint, reflect.Uintptr,
		reflect.Float32, reflect.Float64, reflect.Complex64, reflect.Complex128:
		return nil
	case reflect.Array:
		return CheckPlain(t.Elem(), path+"[0]")
	case reflect.Struct:
		for i := range t.NumField() {
			f := t.Field(i)
			if err := CheckPlain(f.Type, joinPath(path, f.Name)); err != nil {
				return err
			}
		}
		return nil
	default:
		where := "the type itself"
		if path != "" {
			where = "field " + path
		}
		return fmt.Errorf("%s is a %s (%s): only fixed-size plain data can be copied to the kernel", where, t.Kind(), t)
	}
}

func joinPath(path, name string) string {
	if path == "" {
		return name
	}
	return path + "." + name
}

// CheckType is the construction-time check of one Go type against a map's key or value
// ("key", "value"): plain data, the map's size, and, when the map has BTF for it, the
// same layout. The error wraps ErrLayout and names the map.
func CheckType(t reflect.Type, what string, size uint32, bt btf.Type, mapName string) error {
	if err := CheckPlain(t, ""); err != nil {
		return fmt.Errorf("%w: Go %s type %s for map %q: %v", ErrLayout, what, t, mapName, err)
	}
	if uint32(t.Size()) != size && !datasecSlack(t, size, bt) {
		return fmt.Errorf("%w: Go %s type %s is %d bytes, the %s of map %q is %d bytes", ErrLayout, what, t, t.Size(), what, mapName, size)
	}
	if bt == nil {
		return nil
	}
	if m := compareLayout(t, 0, "", bt, 0); m != nil {
		return fmt.Errorf("%w: Go %s type %s does not match the BTF of map %q: %s", ErrLayout, what, t, mapName, m)
	}
	return nil
}

// CheckLayout checks that values of Go type t can stand for values of BTF type bt: t is
// fixed-size plain data, of bt's size, and its fields lie where bt's members do, field by
// field (names may differ; see the accessors' construction check, which is this one).
// For a section (DATASEC), t may be up to its alignment-1 bytes bigger than bt: Go rounds
// a struct's size up to its alignment where C does not round a section.
// The error wraps ErrLayout and names the first field that differs with both offsets.
// loader uses it for global variables and whole sections.
func CheckLayout(t reflect.Type, bt btf.Type) error {
	if err := CheckPlain(t, ""); err != nil {
		return fmt.Errorf("%w: Go type %s: %v", ErrLayout, t, err)
	}
	size, err := btf.Sizeof(bt)
	if err != nil {
		return fmt.Errorf("%w: BTF type %s has no size: %v", ErrLayout, bt, err)
	}
	if t.Size() != uintptr(size) && !datasecSlack(t, uint32(size), bt) {
		return fmt.Errorf("%w: Go type %s is %d bytes, the BTF type is %d bytes", ErrLayout, t, t.Size(), size)
	}
	if m := compareLayout(t, 0, "", bt, 0); m != nil {
		return fmt.Errorf("%w: Go type %s does not match the BTF type: %s", ErrLayout, t, m)
	}
	return nil
}

// datasecSlack reports whether Go type t is a global-data section of size bytes plus Go's
// own trailing padding: a section holding a u64 and a u32 is 12 bytes, which no Go struct
// with a uint64 field can be. The kernel copies size bytes; the rest stays untouched.
func datasecSlack(t reflect.Type, size uint32, bt btf.Type) bool {
	if _, ok := btf.UnderlyingType(bt).(*btf.Datasec); !ok || bt == nil {
		return false
	}
	return uint32(t.Size()) > size && uint32(t.Size())-size < uint32(t.Align())
}

// mismatch is the first place where a Go type and a BTF type differ.
type mismatch struct {
	path          string
	goOff, btfOff uintptr
	goDesc        string
	btfDesc       string
	why           string
}

func (m *mismatch) String() string {
	field := m.path
	if field == "" {
		field = "(whole type)"
	}
	return fmt.Sprintf("field %s: %s (Go offset %d, %s; BTF offset %d, %s)", field, m.why, m.goOff, m.goDesc, m.btfOff, m.btfDesc)
}

func btfDesc(t btf.Type) string {
	s := fmt.Sprint(t)
	if n, err := btf.Sizeof(t); err == nil {
		s += fmt.Sprintf(" of %d bytes", n)
	}
	return s
}

// compareLayout compares Go type t at goOff with BTF type bt at btfOff, recursively.
// Names may differ; offsets, sizes and shapes must not. A Go byte array stands for any BTF
// type of its size (char arrays, unions, bitfields); a Go "_" field is padding the C side
// leaves implicit. A section (DATASEC) matches a struct whose fields are its variables
// (its static variables may be left to blank fields), or, when it holds a single
// variable, that variable's type.
func compareLayout(t reflect.Type, goOff uintptr, path string, bt btf.Type, btfOff uintptr) *mismatch {
	bt = btf.UnderlyingType(bt)
	bsize, err := btf.Sizeof(bt)
	mis := func(why string) *mismatch {
		return &mismatch{path: path, goOff: goOff, btfOff: btfOff,
			goDesc: fmt.Sprintf("%s of %d bytes", t, t.Size()), btfDesc: btfDesc(bt), why: why}
	}
	if err != nil {
		return mis("BTF type has no size: " + err.Error())
	}
	if goOff != btfOff {
		return mis("offsets differ")
	}
	if int(t.Size()) != bsize && !datasecSlack(t, uint32(bsize), bt) {
		return mis("sizes differ")
	}
	isLock := func(bt btf.Type) bool {
		s, ok := bt.(*btf.Struct)
		return ok && s.Name == "bpf_spin_lock"
	}
	if isSpinLock(t) {
		if !isLock(bt) {
			return mis("maps.SpinLock where the C type is not struct bpf_spin_lock")
		}
		return nil
	}
	if isLock(bt) {
		if btfOff%4 != 0 && t.Kind() == reflect.Array && t.Elem().Kind() == reflect.Uint8 {
			// a lock in a packed struct: Go cannot place a maps.SpinLock there, and the
			// kernel refuses such a map anyway (the lock must be 4-byte aligned)
			return nil
		}
		return mis("struct bpf_spin_lock must be a maps.SpinLock in Go")
	}
	if t.Kind() == reflect.Array && t.Elem().Size() == 1 && (t.Elem().Kind() == reflect.Uint8 || t.Elem().Kind() == reflect.Int8) {
		return nil // opaque bytes of the right size (checked above)
	}

	switch b := bt.(type) {
	case *btf.Int:
		switch t.Kind() {
		case reflect.Bool, reflect.Int8, reflect.Int16, reflect.Int32, reflect.Int64, reflect.Int,
			reflect.Uint8, reflect.Uint16, reflect.Uint32, reflect.Uint64, reflect.Uint, reflect.Uintptr:
			return nil
		}
		return mis("C integer, Go " + t.Kind().String())
	case *btf.Enum, *btf.Pointer:
		switch t.Kind() {
		case reflect.Int8, reflect.Int16, reflect.Int32, reflect.Int64, reflect.Int,
			reflect.Uint8, reflect.Uint16, reflect.Uint32, reflect.Uint64, reflect.Uint, reflect.Uintptr:
			return nil
		}
		return mis("C enum or pointer, Go " + t.Kind().String())
	case *btf.Float:
		if t.Kind() == reflect.Float32 || t.Kind() == reflect.Float64 {
			return nil
		}
		return mis("C float, Go " + t.Kind().String())
	case *btf.Union:
		return nil // Go has no unions: any plain type of the union's size stands for it
	case *btf.Array:
		if t.Kind() != reflect.Array {
			return mis("C array, Go " + t.Kind().String())
		}
		if uint32(t.Len()) != b.Nelems {
			return mis(fmt.Sprintf("C array of %d elements, Go array of %d", b.Nelems, t.Len()))
		}
		if t.Len() == 0 {
			return nil
		}
		return compareLayout(t.Elem(), goOff, path+"[0]", b.Type, btfOff)
	case *btf.Struct:
		if t.Kind() != reflect.Struct {
			return mis("C struct, Go " + t.Kind().String())
		}
		members := make([]fieldRef, 0, len(b.Members))
		for _, m := range b.Members {
			members = append(members, fieldRef{name: m.Name, typ: m.Type, off: uintptr(m.Offset.Bytes()),
				bitOff: uint32(m.Offset), bitLen: uint32(m.BitfieldSize)})
		}
		return compareFields(t, goOff, path, members, btfOff, mis)
	case *btf.Datasec:
		if len(b.Vars) == 1 && b.Vars[0].Offset == 0 && t.Kind() != reflect.Struct {
			// a section holding one variable: the variable's own type stands for it
			if v, ok := b.Vars[0].Type.(*btf.Var); ok {
				return compareLayout(t, goOff, joinPath(path, v.Name), v.Type, btfOff)
			}
		}
		if t.Kind() != reflect.Struct {
			return mis("C section, Go " + t.Kind().String())
		}
		vars := make([]fieldRef, 0, len(b.Vars))
		for _, v := range b.Vars {
			name := ""
			var typ btf.Type = v.Type
			static := false
			if vv, ok := v.Type.(*btf.Var); ok {
				name, typ, static = vv.Name, vv.Type, vv.Linkage == btf.StaticVar
			}
			vars = append(vars, fieldRef{name: name, typ: typ, off: uintptr(v.Offset), optional: static})
		}
		// Offset order: a DATASEC placed where its symbols say (objfile.AlignedBTF) may
		// list a variable that moved out of it.
		slices.SortStableFunc(vars, func(a, b fieldRef) int { return cmp.Compare(a.off, b.off) })
		return compareFields(t, goOff, path, vars, btfOff, mis)
	}
	return mis(fmt.Sprintf("unsupported BTF kind %T", bt))
}

type fieldRef struct {
	name           string
	typ            btf.Type
	off            uintptr
	bitOff, bitLen uint32 // bitLen > 0 for a bitfield
	// optional: a static variable of a section, which the Go struct may leave to padding
	// (generated skeletons do: it is the object's own business, like bpf_printk's format
	// strings) or hold in a field of its own.
	optional bool
}

// isStorage reports whether a Go type can hold the bits of C bitfields: an unsigned
// integer or a byte array.
func isStorage(t reflect.Type) bool {
	switch t.Kind() {
	case reflect.Uint8, reflect.Uint16, reflect.Uint32, reflect.Uint64:
		return true
	case reflect.Array:
		return t.Elem().Kind() == reflect.Uint8
	}
	return false
}

// compareFields matches the fields of Go struct t, in order, with the C members. A Go
// blank field ("_") stands for a C member at the same offset and of the same size (an
// explicit pad), or else for padding the C side leaves implicit. A run of C bitfields is
// held by one Go unsigned integer or byte array whose bytes cover their bits. Zero-sized
// C members at the end (flexible arrays) may be left out, and so may the optional ones
// (a section's static variables) wherever they are: a Go field skips those that start
// before it.
func compareFields(t reflect.Type, goOff uintptr, path string, members []fieldRef, btfOff uintptr, mis func(string) *mismatch) *mismatch {
	next, named := 0, 0
	for i := range t.NumField() {
		f := t.Field(i)
		for next < len(members) && members[next].optional && members[next].off < f.Offset {
			next++ // left to the Go struct's padding
		}
		if f.Name == "_" {
			if next < len(members) && members[next].off == f.Offset && members[next].bitLen == 0 {
				if n, err := btf.Sizeof(members[next].typ); err == nil && uintptr(n) == f.Type.Size() {
					next++
				}
			}
			continue
		}
		named++
		fpath := joinPath(path, f.Name)
		if next >= len(members) {
			return &mismatch{path: fpath, goOff: goOff + f.Offset, btfOff: btfOff + t.Size(),
				goDesc: fmt.Sprintf("%s of %d bytes", f.Type, f.Type.Size()), btfDesc: "none",
				why: fmt.Sprintf("Go has more fields than the C type's %d members", len(members))}
		}
		m := members[next]
		if m.bitLen > 0 {
			lo, hi := uint32(f.Offset)*8, uint32(f.Offset+f.Type.Size())*8
			r := &mismatch{path: fpath, goOff: goOff + f.Offset, btfOff: btfOff + uintptr(m.bitOff/8),
				goDesc: fmt.Sprintf("%s of %d bytes", f.Type, f.Type.Size()), btfDesc: fmt.Sprintf("bitfield %s of %d bits at bit %d", m.name, m.bitLen, m.bitOff)}
			if !isStorage(f.Type) {
				r.why = "C bitfields need a Go unsigned integer or byte array to hold them"
				return r
			}
			if m.bitOff < lo || m.bitOff+m.bitLen > hi {
				r.why = "the Go field does not cover the bitfield's bits"
				return r
			}
			for next < len(members) && members[next].bitLen > 0 && members[next].bitOff >= lo && members[next].bitOff+members[next].bitLen <= hi {
				next++
			}
			continue
		}
		next++
		if m.name != "" && !strings.EqualFold(m.name, f.Name) {
			fpath += " (C " + m.name + ")"
		}
		if r := compareLayout(f.Type, goOff+f.Offset, fpath, m.typ, btfOff+m.off); r != nil {
			return r
		}
	}
	for next < len(members) && members[next].bitLen == 0 {
		if !members[next].optional {
			if n, err := btf.Sizeof(members[next].typ); err != nil || n != 0 {
				break
			}
		}
		next++ // a flexible array member, or a static variable left to padding
	}
	if next < len(members) {
		m := members[next]
		r := mis(fmt.Sprintf("Go has %d fields, C has %d members (first missing: %q)", named, len(members), m.name))
		r.path = joinPath(path, m.name)
		r.goOff, r.btfOff = goOff+t.Size(), btfOff+m.off
		r.goDesc, r.btfDesc = "none", btfDesc(m.typ)
		return r
	}
	return nil
}
