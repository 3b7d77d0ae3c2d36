// SPDX-License-Identifier: Apache-2.0

package loader_test

import (
	"bytes"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"testing"

	"github.com/cilium/ebpf"
	"github.com/cilium/ebpf/btf"

	"github.com/bpfkit/bpfkit/internal/testutil"
	"github.com/bpfkit/bpfkit/loader"
	"github.com/bpfkit/bpfkit/maps"
)

// counter is struct counter of pinned_a.bpf.c and pinned_b.bpf.c.
type counter struct {
	Packets uint64
	Flags   uint32
	LastLen uint32
}

// pinChildEnv, when set in the environment, makes the test binary act as the second
// process of TestPinnedMapAcrossProcesses (see TestMain): it holds the pin root.
const pinChildEnv = "BPFKIT_TEST_PIN_CHILD"

func TestMain(m *testing.M) {
	if root := os.Getenv(pinChildEnv); root != "" {
		if err := pinChild(root); err != nil {
			fmt.Fprintln(os.Stderr, "child:", err)
			os.Exit(1)
		}
		os.Exit(0)
	}
	os.Exit(m.Run())
}

// pinChild is the second process: it opens the other build of the object with the same
// pin root, so that libbpf reuses the pinned map, writes key 7 through a typed accessor
// (typed from the kernel's BTF of the map, which pinned_a's load gave it), and runs its
// own program on the shared map. It prints the map's kernel ID.
func pinChild(root string) error {
	elf, err := os.ReadFile(filepath.Join("..", "bpf", "testdata", "loader", "pinned_b.bpf.o"))
	if err != nil {
		return err
	}
	obj, err := loader.OpenBytes("pinned_b.bpf.o", elf, &loader.Options{PinRoot: root})
	if err != nil {
		return err
	}
	defer obj.Close()
	if err := obj.Load(); err != nil {
		return err
	}
	m, err := obj.Map("shared_counts")
	if err != nil {
		return err
	}
	h, err := maps.NewHash[uint32, counter](m)
	if err != nil {
		return fmt.Errorf("typed accessor on the reused map: %w", err)
	}
	if err := h.Update(7, counter{Packets: 42, Flags: 0xb}, maps.UpdateAny); err != nil {
		return err
	}
	if _, err := maps.NewHash[uint32, [2]uint64](m); !errors.Is(err, maps.ErrLayout) {
		return fmt.Errorf("a Go type of the right size but another layout on the reused map: %v, want ErrLayout", err)
	}
	// bump_b reads settings[0].mode: 0 means "add 1"
	p, err := obj.Program("bump_b")
	if err != nil {
		return err
	}
	if _, err := p.Test(nil); err != nil {
		return err
	}
	fd, err := m.FD()
	if err != nil {
		return err
	}
	fm, err := maps.FromFD(fd)
	if err != nil {
		return err
	}
	defer fm.Close()
	id, err := fm.ID()
	if err != nil {
		return err
	}
	fmt.Printf("map-id %d\n", id)
	return nil
}

// pinRoot makes a directory on the BPF file system for a test's pins and removes it,
// with whatever was pinned in it, when the test ends.
func pinRoot(t *testing.T) string {
	t.Helper()
	testutil.RequirePrivileged(t)
	dir, err := os.MkdirTemp("/sys/fs/bpf", "bpfkit-test-")
	if err != nil {
		t.Fatalf("a directory on the BPF file system (mount -t bpf bpf /sys/fs/bpf): %v", err)
	}
	t.Cleanup(func() { _ = os.RemoveAll(dir) })
	return dir
}

// btfTypeID returns the ID of struct name in an object's BTF.
func btfTypeID(t *testing.T, elf []byte, name string) btf.TypeID {
	t.Helper()
	spec, err := btf.LoadSpecFromReader(bytes.NewReader(elf))
	if err != nil {
		t.Fatal(err)
	}
	var s *btf.Struct
	if err := spec.TypeByName(name, &s); err != nil {
		t.Fatal(err)
	}
	id, err := spec.TypeID(s)
	if err != nil {
		t.Fatal(err)
	}
	return id
}

// TestPinnedMapAcrossProcesses: two builds of an object share a map through
// LIBBPF_PIN_BY_NAME under Options.PinRoot, the second in another process. The second
// types the map from the kernel's BTF of it (the first build's), not by its own type
// IDs, which differ; both see each other's writes; the pinned map and program open by
// path into typed accessors and a test run.
func TestPinnedMapAcrossProcesses(t *testing.T) {
	root := pinRoot(t)
	elfA, elfB := testObject(t, "pinned_a.bpf.o"), testObject(t, "pinned_b.bpf.o")
	if a, b := btfTypeID(t, elfA, "counter"), btfTypeID(t, elfB, "counter"); a == b {
		t.Fatalf("struct counter has ID %d in both builds: the test needs builds that number it differently", a)
	}

	obj := open(t, "pinned_a.bpf.o", elfA, &loader.Options{PinRoot: root})
	load(t, obj)
	pin := filepath.Join(root, "shared_counts")
	if _, err := os.Stat(pin); err != nil {
		t.Fatalf("libbpf did not pin shared_counts under PinRoot: %v", err)
	}
	m := mapOf(t, obj, "shared_counts")
	h, err := maps.NewHash[uint32, counter](m)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := progOf(t, obj, "bump").Test(nil); err != nil { // key 1: packets 1
		t.Fatal(err)
	}

	cmd := exec.Command(os.Args[0], "-test.run=^$")
	cmd.Env = append(os.Environ(), pinChildEnv+"="+root)
	out, err := cmd.CombinedOutput()
	if err != nil {
		t.Fatalf("the second process: %v\n%s", err, out)
	}
	var childID uint32
	if _, err := fmt.Sscanf(strings.TrimSpace(string(out)), "map-id %d", &childID); err != nil {
		t.Fatalf("the second process printed %q", out)
	}
	fd, _ := m.FD()
	fm, err := maps.FromFD(fd)
	if err != nil {
		t.Fatal(err)
	}
	id, _ := fm.ID()
	_ = fm.Close()
	if id != childID {
		t.Fatalf("the second process used map %d, this one is %d: the pinned map was not reused", childID, id)
	}

	// What the other process wrote, through this process's map.
	if c, err := h.Lookup(7); err != nil || c != (counter{Packets: 42, Flags: 0xb}) {
		t.Errorf("key 7 written by the other process: %+v, %v", c, err)
	}
	if c, err := h.Lookup(1); err != nil || c.Packets != 2 || c.LastLen != 0xb || c.Flags != 0xa {
		t.Errorf("key 1 after both builds' programs ran: %+v, %v", c, err)
	}

	// The pinned map by path, into a typed accessor.
	pm, err := loader.OpenPinnedMap(pin)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = pm.Close() })
	ph, err := maps.NewHash[uint32, counter](pm)
	if err != nil {
		t.Fatalf("typed accessor on the map opened by path: %v", err)
	}
	if c, err := ph.Lookup(7); err != nil || c.Packets != 42 {
		t.Errorf("key 7 through the map opened by path: %+v, %v", c, err)
	}
	if _, err := maps.NewHash[uint32, uint64](pm); !errors.Is(err, maps.ErrLayout) {
		t.Errorf("an 8-byte value type on the 16-byte map: %v, want ErrLayout", err)
	}

	// The program, pinned and opened by path, runs on the same map.
	progPin := filepath.Join(root, "bump")
	if err := progOf(t, obj, "bump").Pin(progPin); err != nil {
		t.Fatal(err)
	}
	pp, err := loader.OpenPinnedProgram(progPin)
	if err != nil {
		t.Fatal(err)
	}
	if pp.Name() != "bump" || pp.Type() != ebpf.Syscall || pp.ID() == 0 {
		t.Errorf("pinned program: name %q type %v id %d", pp.Name(), pp.Type(), pp.ID())
	}
	if _, err := pp.Test(nil); err != nil {
		t.Fatal(err)
	}
	if c, _ := h.Lookup(1); c.Packets != 3 {
		t.Errorf("key 1 after the pinned program ran: %+v, want 3 packets", c)
	}
	if err := pp.Close(); err != nil {
		t.Fatal(err)
	}
	if _, err := pp.Test(nil); !errors.Is(err, loader.ErrClosed) {
		t.Errorf("Test after Close: %v, want ErrClosed", err)
	}
	if err := pp.Close(); err != nil {
		t.Errorf("second Close: %v", err)
	}
}

// TestPinnedMapMismatch: a pinned map whose definition differs from the object's is not
// reused: Load fails with libbpf's words and the map's name.
func TestPinnedMapMismatch(t *testing.T) {
	root := pinRoot(t)
	first := open(t, "pinned_a.bpf.o", testObject(t, "pinned_a.bpf.o"), &loader.Options{PinRoot: root})
	load(t, first)
	second := open(t, "pinned_a.bpf.o", testObject(t, "pinned_a.bpf.o"), &loader.Options{PinRoot: root, Logger: discardLogger()})
	if err := mapOf(t, second, "shared_counts").SetMaxEntries(32); err != nil {
		t.Fatal(err)
	}
	err := second.Load()
	var le *loader.LoadError
	if !errors.As(err, &le) || le.Map != "shared_counts" || !strings.Contains(err.Error(), "reuse") {
		t.Fatalf("Load with a pinned map of another size: %v (%T), want a *LoadError naming shared_counts", err, err)
	}
	if !errors.Is(err, syscall.EINVAL) {
		t.Errorf("%v does not wrap EINVAL", err)
	}
}

// TestOpenPinnedErrors: paths that hold no pin, or a pin of another kind.
func TestOpenPinnedErrors(t *testing.T) {
	root := pinRoot(t)
	if _, err := loader.OpenPinnedMap(filepath.Join(root, "nothing")); !errors.Is(err, syscall.ENOENT) {
		t.Errorf("OpenPinnedMap of a missing pin: %v, want ENOENT", err)
	}
	if _, err := loader.OpenPinnedProgram("/etc/hostname"); err == nil {
		t.Error("OpenPinnedProgram of a file outside the BPF file system succeeded")
	}
	obj := open(t, "pinned_a.bpf.o", testObject(t, "pinned_a.bpf.o"), &loader.Options{PinRoot: root})
	load(t, obj)
	pin := filepath.Join(root, "shared_counts")
	if _, err := loader.OpenPinnedProgram(pin); err == nil || !strings.Contains(err.Error(), "not a prog") {
		t.Errorf("OpenPinnedProgram of a map's pin: %v", err)
	}
	progPin := filepath.Join(root, "bump")
	if err := progOf(t, obj, "bump").Pin(progPin); err != nil {
		t.Fatal(err)
	}
	if _, err := loader.OpenPinnedMap(progPin); err == nil || !strings.Contains(err.Error(), "not a map") {
		t.Errorf("OpenPinnedMap of a program's pin: %v", err)
	}
}
