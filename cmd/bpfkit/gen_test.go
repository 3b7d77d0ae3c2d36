// SPDX-License-Identifier: Apache-2.0

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

// TestGenNoSymlinks puts symlinks where bpfkit gen writes: the skeleton, the object's
// copy, a directory of -output. gen must replace a symlinked file with a regular one
// and never write through it, and refuse a symlinked directory of a relative -output.
func TestGenNoSymlinks(t *testing.T) {
	obj, err := filepath.Abs(filepath.Join("..", "..", "bpf", "minimal.bpf.o"))
	if err != nil {
		t.Fatal(err)
	}
	want, err := os.ReadFile(obj)
	if err != nil {
		t.Fatal(err)
	}
	dir := t.TempDir()
	t.Chdir(dir)
	victim := filepath.Join(dir, "victim")
	write := func(path, text string) {
		t.Helper()
		if err := os.WriteFile(path, []byte(text), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	symlink := func(target, link string) {
		t.Helper()
		if err := os.MkdirAll(filepath.Dir(link), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.Symlink(target, link); err != nil {
			t.Fatal(err)
		}
	}
	regular := func(path string, want []byte) {
		t.Helper()
		st, err := os.Lstat(path)
		if err != nil || !st.Mode().IsRegular() {
			t.Fatalf("%s is not a regular file: %v %v", path, st, err)
		}
		if got, _ := os.ReadFile(path); want != nil && !bytes.Equal(got, want) {
			t.Errorf("%s does not hold what gen wrote", path)
		}
	}
	untouched := func() {
		t.Helper()
		if b, err := os.ReadFile(victim); err != nil || string(b) != "precious" {
			t.Errorf("the symlink's target was written: %q %v", b, err)
		}
	}
	noTemp := func(d string) {
		t.Helper()
		m, _ := filepath.Glob(filepath.Join(d, ".*.tmp"))
		if len(m) > 0 {
			t.Errorf("temporary files left behind: %v", m)
		}
	}

	t.Run("skeleton", func(t *testing.T) {
		write(victim, "precious")
		symlink(victim, "a/minimal.skel.go")
		if code, _, stderr := runArgs("gen", "-output", "a/minimal.skel.go", obj); code != 0 {
			t.Fatalf("exit %d: %s", code, stderr)
		}
		untouched()
		regular("a/minimal.skel.go", nil)
		noTemp("a")
	})
	t.Run("skeleton already right", func(t *testing.T) {
		// a symlink to a file with the right contents is replaced all the same
		src, err := os.ReadFile("a/minimal.skel.go")
		if err != nil {
			t.Fatal(err)
		}
		write(victim, string(src))
		symlink(victim, "b/minimal.skel.go")
		if code, _, stderr := runArgs("gen", "-output", "b/minimal.skel.go", obj); code != 0 {
			t.Fatalf("exit %d: %s", code, stderr)
		}
		regular("b/minimal.skel.go", src)
	})
	t.Run("object copy", func(t *testing.T) {
		write(victim, "precious")
		symlink(victim, "c/minimal.bpf.o")
		if code, _, stderr := runArgs("gen", "-output", "c/minimal.skel.go", obj); code != 0 {
			t.Fatalf("exit %d: %s", code, stderr)
		}
		untouched()
		regular("c/minimal.bpf.o", want)
		noTemp("c")
	})
	t.Run("dangling", func(t *testing.T) {
		symlink(filepath.Join(dir, "nowhere"), "d/minimal.skel.go")
		if code, _, stderr := runArgs("gen", "-output", "d/minimal.skel.go", obj); code != 0 {
			t.Fatalf("exit %d: %s", code, stderr)
		}
		regular("d/minimal.skel.go", nil)
		if _, err := os.Lstat(filepath.Join(dir, "nowhere")); err == nil {
			t.Errorf("gen created the dangling symlink's target")
		}
	})
	t.Run("directory", func(t *testing.T) {
		outside := t.TempDir()
		symlink(outside, "e/link")
		code, _, stderr := runArgs("gen", "-output", "e/link/sub/minimal.skel.go", obj)
		if code != 1 || !strings.Contains(stderr, "e/link is a symlink") {
			t.Errorf("exit %d, stderr %q; want exit 1 and the symlink named", code, stderr)
		}
		if ents, _ := os.ReadDir(outside); len(ents) != 0 {
			t.Errorf("gen wrote through the symlinked directory: %v", ents)
		}
	})
	t.Run("object compiled beside", func(t *testing.T) {
		// the object in the output directory is the source: nothing to copy, and a
		// hard link to it is the same file
		if err := os.MkdirAll("f", 0o755); err != nil {
			t.Fatal(err)
		}
		write("f/minimal.bpf.o", string(want))
		old := time.Unix(1, 0)
		if err := os.Chtimes("f/minimal.bpf.o", old, old); err != nil {
			t.Fatal(err)
		}
		if code, _, stderr := runArgs("gen", "-output", "f/minimal.skel.go", "f/minimal.bpf.o"); code != 0 {
			t.Fatalf("exit %d: %s", code, stderr)
		}
		if st, err := os.Stat("f/minimal.bpf.o"); err != nil || !st.ModTime().Equal(old) {
			t.Errorf("the object was rewritten onto itself")
		}
	})
}

// TestGenOutputPaths: -output must be a Go file, below the current directory unless it
// is absolute.
func TestGenOutputPaths(t *testing.T) {
	obj, err := filepath.Abs(filepath.Join("..", "..", "bpf", "minimal.bpf.o"))
	if err != nil {
		t.Fatal(err)
	}
	dir := t.TempDir()
	t.Chdir(filepath.Join(dir))
	if err := os.Mkdir("pkg", 0o755); err != nil {
		t.Fatal(err)
	}
	t.Chdir("pkg")
	for _, c := range []struct {
		output string
		code   int
		err    string
	}{
		{"../x.go", 2, "leaves the current directory"},
		{"a/../../x.go", 2, "leaves the current directory"},
		{"x.txt", 2, "must end in .go"},
		{".go", 2, "must end in .go"},
		{"a/../x.go", 0, ""},
		{filepath.Join(dir, "abs", "x.go"), 0, ""},
	} {
		t.Run(c.output, func(t *testing.T) {
			code, _, stderr := runArgs("gen", "-output", c.output, obj)
			if code != c.code || !strings.Contains(stderr, c.err) {
				t.Errorf("exit %d, stderr %q; want exit %d and %q", code, stderr, c.code, c.err)
			}
		})
	}
	if _, err := os.Stat(filepath.Join(dir, "x.go")); err == nil {
		t.Errorf("a refused -output was written")
	}
	for _, p := range []string{"x.go", filepath.Join(dir, "abs", "x.go")} {
		if _, err := os.Stat(p); err != nil {
			t.Errorf("%s not written: %v", p, err)
		}
	}
}

// TestGenObjectName: the object's file name goes into //go:embed and the generated
// comments, so gen refuses one it could not write there as it is.
func TestGenObjectName(t *testing.T) {
	want, err := os.ReadFile(filepath.Join("..", "..", "bpf", "minimal.bpf.o"))
	if err != nil {
		t.Fatal(err)
	}
	dir := t.TempDir()
	for _, name := range []string{"my obj.bpf.o", "x\nfunc init() {}.bpf.o", "q\".bpf.o", ".hidden.bpf.o"} {
		t.Run(name, func(t *testing.T) {
			obj := filepath.Join(dir, name)
			if err := os.WriteFile(obj, want, 0o644); err != nil {
				t.Fatal(err)
			}
			out := filepath.Join(dir, "out", "x.skel.go")
			code, _, stderr := runArgs("gen", "-output", out, obj)
			if code != 1 || !strings.Contains(stderr, "object file name") || strings.Count(stderr, "\n") != 1 {
				t.Errorf("exit %d, stderr %q; want exit 1 and one line about the object file name", code, stderr)
			}
			if _, err := os.Stat(out); err == nil {
				t.Errorf("wrote %s", out)
			}
		})
	}
}
