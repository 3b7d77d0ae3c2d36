// SPDX-License-Identifier: Apache-2.0

package loader_test

import (
	"errors"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/bpfkit/bpfkit/loader"
)

// FuzzOpenBytes feeds OpenBytes arbitrary bytes and mutated real objects: the ELF, its
// BTF and its sections are untrusted input. Open must fail with an error or succeed,
// never crash, and an object it opens must answer for its programs, maps and globals and
// close cleanly. Nothing reaches the kernel (no Load).
func FuzzOpenBytes(f *testing.F) {
	// small objects of every section kind: the fuzzer mutates them faster
	for _, name := range []string{"minimal.bpf.o", "testdata/loader/globals.bpf.o",
		"testdata/loader/verifier.bpf.o", "testdata/loader/kprobe.bpf.o", "testdata/maps/bench.bpf.o"} {
		if b, err := os.ReadFile(filepath.Join("..", "bpf", name)); err == nil {
			f.Add(b)
		}
	}
	f.Add([]byte("\x7fELF\x02\x01\x01"))
	logger := discardLogger()
	f.Fuzz(func(t *testing.T, elf []byte) {
		if len(elf) > 1<<20 {
			return
		}
		start := time.Now()
		obj, err := loader.OpenBytes("fuzz.bpf.o", elf, &loader.Options{Logger: logger})
		if err != nil {
			if obj != nil {
				t.Fatalf("OpenBytes returned an object and an error: %v", err)
			}
			return
		}
		for _, p := range obj.Programs() {
			_ = p.Section()
			_ = p.Autoload()
			if _, err := p.FD(); !errors.Is(err, loader.ErrNotLoaded) {
				t.Fatalf("program %q has a descriptor before Load: %v", p.Name(), err)
			}
		}
		for _, m := range obj.Maps() {
			if _, err := m.Info(); err != nil {
				t.Fatalf("map %q: %v", m.Name(), err)
			}
			if m.Section() != "" {
				var b [8]byte
				_ = obj.ReadSection(m.Section(), &b)
			}
		}
		_ = obj.SetGlobal("x", uint32(1))
		if err := obj.Close(); err != nil {
			t.Fatal(err)
		}
		if d := time.Since(start); d > 5*time.Second {
			t.Fatalf("open and close took %v", d)
		}
	})
}
