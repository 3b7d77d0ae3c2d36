// SPDX-License-Identifier: Apache-2.0

package maps_test

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"testing"

	"github.com/bpfkit/bpfkit/internal/caps"
	"github.com/bpfkit/bpfkit/internal/testutil"
	"github.com/bpfkit/bpfkit/loader"
	"github.com/bpfkit/bpfkit/maps"
)

// TestMain fails the package if its tests leak file descriptors.
// The first load of an object opens descriptors libbpf keeps for the process (kernel BTF),
// so a warm-up load comes before the count.
func TestMain(m *testing.M) {
	if len(caps.MissingForBPF()) == 0 {
		if elf, err := os.ReadFile(objectPath); err == nil {
			if o, err := loader.OpenBytes("maps.bpf.o", elf, nil); err == nil {
				o.Load()
				o.Close()
			}
		}
	}
	before, err := testutil.CountOpenFDs()
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(1)
	}
	code := m.Run()
	after, err := testutil.CountOpenFDs()
	switch {
	case err != nil:
		fmt.Fprintln(os.Stderr, err)
		code = 1
	case code == 0 && after > before:
		fmt.Fprintf(os.Stderr, "maps tests leaked %d file descriptors (%d before, %d after)\n", after-before, before, after)
		code = 1
	}
	os.Exit(code)
}

var objectPath = filepath.Join("..", "bpf", "testdata", "maps", "maps.bpf.o")

// testObject loads bpf/testdata/maps/maps.bpf.o, closed when the test ends.
func testObject(t testing.TB) *loader.Object {
	t.Helper()
	testutil.RequirePrivileged(t)
	elf, err := os.ReadFile(objectPath)
	if err != nil {
		t.Fatal(err)
	}
	o, err := loader.OpenBytes("maps.bpf.o", elf, nil)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { o.Close() })
	if err := o.Load(); err != nil {
		t.Fatal(err)
	}
	return o
}

func testMap(t testing.TB, o *loader.Object, name string) *loader.Map {
	t.Helper()
	m, err := o.Map(name)
	if err != nil {
		t.Fatal(err)
	}
	return m
}

// run runs an XDP program of o exactly n times on a 64-byte packet, in one
// BPF_PROG_TEST_RUN (loader's Program.Test blocks signals, so the run is never cut short).
func run(t testing.TB, o *loader.Object, prog string, n uint32) {
	t.Helper()
	p, err := o.Program(prog)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := p.Test(&loader.TestOptions{Data: make([]byte, 64), Repeat: n}); err != nil {
		t.Fatal(err)
	}
}

func must[T any](t testing.TB) func(T, error) T {
	return func(v T, err error) T {
		t.Helper()
		if err != nil {
			t.Fatal(err)
		}
		return v
	}
}

func wantErr(t testing.TB, err error, targets ...error) {
	t.Helper()
	if err == nil {
		t.Fatalf("want an error matching %v, got nil", targets)
	}
	for _, target := range targets {
		if !errors.Is(err, target) {
			t.Fatalf("error %q does not match %v", err, target)
		}
	}
}

// fakeMap is a Map whose Info is given and that has no descriptor (see maps.FakeMap).
func fakeMap(info maps.Info) *maps.FakeMap { return maps.NewFakeMap(info) }
