// SPDX-License-Identifier: Apache-2.0

package sys_test

import (
	"bytes"
	"debug/elf"
	"errors"
	"path/filepath"
	"reflect"
	"slices"
	"testing"
	"time"

	"github.com/cilium/ebpf/btf"

	"github.com/bpfkit/bpfkit/internal/sys"
	"github.com/bpfkit/bpfkit/maps"
)

// goTypes are Go types the layout check compares with every BTF type of the input.
var goTypes = []reflect.Type{
	reflect.TypeFor[uint32](),
	reflect.TypeFor[uint64](),
	reflect.TypeFor[[16]byte](),
	reflect.TypeFor[struct {
		A uint32
		B uint32
		C uint64
	}](),
	reflect.TypeFor[struct {
		L maps.SpinLock
		_ uint32
		N [2]uint64
	}](),
	reflect.TypeFor[struct {
		A [3]struct{ X, Y uint16 }
		B float64
	}](),
}

// FuzzBTFValue reads a map value's BTF (an object's BTF is untrusted input) with what
// maps and loader use on it: the special-field finder, the lock offset and the layout
// check against a few Go types. None may panic or loop; a lock offset is that of the one
// lock the kernel would see; layout errors wrap ErrLayout.
func FuzzBTFValue(f *testing.F) {
	objs, _ := filepath.Glob(filepath.Join("..", "..", "bpf", "testdata", "*", "*.bpf.o"))
	for _, p := range objs {
		ef, err := elf.Open(p)
		if err != nil {
			continue
		}
		if s := ef.Section(".BTF"); s != nil {
			if b, err := s.Data(); err == nil && len(b) < 16<<10 {
				f.Add(b)
			}
		}
		ef.Close()
	}
	f.Fuzz(func(t *testing.T, raw []byte) {
		spec, err := btf.LoadSpecFromReader(bytes.NewReader(raw))
		if err != nil {
			return
		}
		start := time.Now()
		n := 0
		for typ, err := range spec.All() {
			if err != nil || n > 512 {
				break
			}
			n++
			fields := sys.SpecialFields(typ)
			locks := 0
			for _, fl := range fields {
				if fl.Path == "" {
					t.Fatalf("field without a path in %v", typ)
				}
				if fl.Kind == sys.SpinLock && !fl.Wrapped {
					locks++
				}
			}
			// a usable lock is the one lock the kernel sees
			if off := sys.LockOffset(typ); off >= 0 {
				if locks != 1 {
					t.Fatalf("LockOffset %d with %d visible locks in %v", off, locks, fields)
				}
				if i := slices.IndexFunc(fields, func(f sys.Field) bool { return f.Kind == sys.SpinLock && !f.Wrapped }); int(fields[i].Offset) != off || fields[i].InArray {
					t.Fatalf("LockOffset %d, but the lock is %+v", off, fields[i])
				}
			}
			for _, gt := range goTypes {
				if err := sys.CheckLayout(gt, typ); err != nil && !errors.Is(err, sys.ErrLayout) {
					t.Fatalf("CheckLayout(%v, %v): %v does not wrap ErrLayout", gt, typ, err)
				}
			}
		}
		if d := time.Since(start); d > 5*time.Second {
			t.Fatalf("%d types took %v", n, d)
		}
	})
}
