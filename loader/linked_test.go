// SPDX-License-Identifier: Apache-2.0

package loader_test

import (
	"testing"

	"github.com/bpfkit/bpfkit/internal/testutil"
	"github.com/bpfkit/bpfkit/loader"
)

// TestWeakStrongGlobal: in an object linked from parts that define a variable __weak in
// one and strong in the other (as sched_ext's parts define is_autopilot_on), Global reads
// and SetGlobal writes the copy the program reads: the one at its ELF symbol, not the
// weak copy its DATASEC entry still points to. Before, SetGlobal wrote the weak copy, and
// the program kept the initial value.
func TestWeakStrongGlobal(t *testing.T) {
	elf, dsOff, symOff := testutil.WeakStrongObject(t)
	obj := open(t, "weak_strong.bpf.o", elf, nil)
	var level uint32
	if err := obj.Global("level", &level); err != nil {
		t.Fatal(err)
	}
	if level != 1 {
		t.Errorf("Global(level) before Load = %d, want the strong copy's 1 (at offset %d; the weak copy at %d holds 0)", level, symOff, dsOff)
	}
	if err := obj.SetGlobal("level", uint32(42)); err != nil {
		t.Fatal(err)
	}
	if err := obj.Load(); err != nil {
		t.Fatal(err)
	}
	prog, err := obj.Program("read_level")
	if err != nil {
		t.Fatal(err)
	}
	res, err := prog.Test(&loader.TestOptions{Data: make([]byte, 64)})
	if err != nil {
		t.Fatal(err)
	}
	if res.Retval != 42 {
		t.Errorf("read_level returned %d after SetGlobal(level, 42): the program reads offset %d, SetGlobal wrote elsewhere (DATASEC offset %d)", res.Retval, symOff, dsOff)
	}
}
