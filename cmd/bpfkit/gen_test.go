package main

import (
	"bytes"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

func TestGen(t *testing.T) {
	obj, err := filepath.Abs(filepath.Join("..", "..", "bpf", "minimal.bpf.o"))
	if err != nil {
		t.Fatal(err)
	}
	golden, err := os.ReadFile(filepath.Join("..", "..", "examples", "skeleton", "minimal", "minimal.skel.go"))
	if err != nil {
		t.Fatal(err)
	}
	dir := t.TempDir()
	out := filepath.Join(dir, "sub", "minimal.skel.go")
	if code, _, stderr := runArgs("gen", "-output", out, obj); code != 0 {
		t.Fatalf("exit %d: %s", code, stderr)
	}
	got, err := os.ReadFile(out)
	if err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(got, golden) {
		t.Errorf("the default package (the stem, minimal) gave other code than examples/skeleton/minimal")
	}
	// the object is copied beside the generated file, for //go:embed
	want, _ := os.ReadFile(obj)
	if copied, err := os.ReadFile(filepath.Join(dir, "sub", "minimal.bpf.o")); err != nil || !bytes.Equal(copied, want) {
		t.Errorf("object not copied beside the output: %v", err)
	}

	// a second run with nothing changed leaves the file alone
	old := time.Unix(1, 0)
	if err := os.Chtimes(out, old, old); err != nil {
		t.Fatal(err)
	}
	if code, _, stderr := runArgs("gen", "-output", out, obj); code != 0 {
		t.Fatalf("second run: exit %d: %s", code, stderr)
	}
	if st, err := os.Stat(out); err != nil || !st.ModTime().Equal(old) {
		t.Errorf("an unchanged skeleton was rewritten")
	}

	// defaults: STEM.skel.go in the current directory
	t.Chdir(dir)
	if code, _, stderr := runArgs("gen", "-package", "other", obj); code != 0 {
		t.Fatalf("exit %d: %s", code, stderr)
	}
	b, err := os.ReadFile(filepath.Join(dir, "minimal.skel.go"))
	if err != nil || !bytes.Contains(b, []byte("\npackage other\n")) {
		t.Errorf("no minimal.skel.go of package other in the current directory: %v", err)
	}
}

func TestGenErrors(t *testing.T) {
	dir := t.TempDir()
	notELF := filepath.Join(dir, "x.bpf.o")
	if err := os.WriteFile(notELF, []byte("not an object"), 0o644); err != nil {
		t.Fatal(err)
	}
	minimal := filepath.Join("..", "..", "bpf", "minimal.bpf.o")
	out := filepath.Join(dir, "out.skel.go")
	for _, c := range []struct {
		name string
		args []string
		code int
		err  string
	}{
		{"no object", []string{"gen"}, 2, "usage: bpfkit gen"},
		{"two objects", []string{"gen", minimal, minimal}, 2, "usage: bpfkit gen"},
		{"missing object", []string{"gen", "-output", out, filepath.Join(dir, "nope.bpf.o")}, 2, "no such file"},
		{"not an object", []string{"gen", "-output", out, notELF}, 1, "x.bpf.o: not an ELF file"},
		{"unknown type", []string{"gen", "-output", out, "-type", "nosuch", minimal}, 1, "-type nosuch"},
		{"bad package", []string{"gen", "-output", out, "-package", "a-b", minimal}, 1, "not a Go identifier"},
	} {
		t.Run(c.name, func(t *testing.T) {
			code, _, stderr := runArgs(c.args...)
			if code != c.code || !strings.Contains(stderr, c.err) {
				t.Errorf("exit %d, stderr %q; want exit %d and %q", code, stderr, c.code, c.err)
			}
			if _, err := os.Stat(out); err == nil {
				t.Errorf("a failed run wrote %s", out)
			}
		})
	}
}
