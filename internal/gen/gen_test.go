// SPDX-License-Identifier: Apache-2.0

package gen_test

import (
	"bytes"
	"debug/elf"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"testing"

	"github.com/bpfkit/bpfkit/internal/gen"
)

func TestGoName(t *testing.T) {
	for c, want := range map[string]string{
		"my_pid":            "MyPid",
		"rx_bytes_total":    "RxBytesTotal",
		"tcpState":          "TcpState",
		"STATE_IDLE":        "StateIdle",
		"__u32":             "U32",
		"handle_tp.____fmt": "HandleTpFmt",
		"_1st":              "X1st",
		"2":                 "X2",
		"___":               "X",
		"HTTPCode":          "HTTPCode",
	} {
		if got := gen.GoName(c); got != want {
			t.Errorf("GoName(%q) = %q, want %q", c, got, want)
		}
	}
}

func TestStem(t *testing.T) {
	for path, want := range map[string]string{"bpf/minimal.bpf.o": "minimal", "x.o": "x", "/a/b/c.bpf.o": "c"} {
		if got := gen.Stem(path); got != want {
			t.Errorf("Stem(%q) = %q, want %q", path, got, want)
		}
	}
}

func readFile(t *testing.T, path string) []byte {
	t.Helper()
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	return b
}

// TestGolden compares the generator's output with the committed skeletons, which are
// the golden files: internal/gen/tricky (every tricky layout of tricky.h; its own tests
// check it against the kernel) and examples/skeleton/minimal. `go generate ./...`
// rewrites them; review the diff.
func TestGolden(t *testing.T) {
	for _, c := range []struct {
		object, golden string
		opts           gen.Options
	}{
		{"../../bpf/testdata/gen/tricky.bpf.o", "tricky/tricky.skel.go", gen.Options{Package: "tricky", Types: []string{"with_flex"}}},
		{"../../bpf/minimal.bpf.o", "../../examples/skeleton/minimal/minimal.skel.go", gen.Options{Package: "minimal"}},
	} {
		t.Run(filepath.Base(c.golden), func(t *testing.T) {
			c.opts.Object = readFile(t, c.object)
			c.opts.ObjectFile = filepath.Base(c.object)
			got, err := gen.Generate(c.opts)
			if err != nil {
				t.Fatal(err)
			}
			want := readFile(t, c.golden)
			if !bytes.Equal(got, want) {
				t.Errorf("generated code differs from %s (run `go generate ./...` and review the diff):\n%s", c.golden, firstDiff(string(want), string(got)))
			}
			again, err := gen.Generate(c.opts)
			if err != nil || !bytes.Equal(again, got) {
				t.Errorf("a second run gave different bytes (err %v)", err)
			}
		})
	}
}

func firstDiff(want, got string) string {
	w, g := strings.Split(want, "\n"), strings.Split(got, "\n")
	for i := 0; i < max(len(w), len(g)); i++ {
		var wl, gl string
		if i < len(w) {
			wl = w[i]
		}
		if i < len(g) {
			gl = g[i]
		}
		if wl != gl {
			return fmt.Sprintf("line %d:\n  golden:    %q\n  generated: %q", i+1, wl, gl)
		}
	}
	return "(no line differs)"
}

// withoutBTF renames the object's .BTF section, as if it had been compiled without -g.
func withoutBTF(t *testing.T, obj []byte) []byte {
	t.Helper()
	out := bytes.ReplaceAll(obj, []byte(".BTF\x00"), []byte(".XTF\x00"))
	f, err := elf.NewFile(bytes.NewReader(out))
	if err != nil || f.Section(".BTF") != nil {
		t.Fatalf("could not hide .BTF: %v", err)
	}
	return out
}

func TestErrors(t *testing.T) {
	minimal := readFile(t, "../../bpf/minimal.bpf.o")
	self, err := os.Executable()
	if err != nil {
		t.Fatal(err)
	}
	notBPF := readFile(t, self)
	for _, c := range []struct {
		name  string
		opts  gen.Options
		words []string
	}{
		{"not ELF", gen.Options{Package: "p", ObjectFile: "x.bpf.o", Object: []byte("hello")}, []string{"x.bpf.o", "not an ELF file"}},
		{"not BPF", gen.Options{Package: "p", ObjectFile: "x.bpf.o", Object: notBPF}, []string{"not a BPF object", "clang -target bpf"}},
		{"no BTF", gen.Options{Package: "p", ObjectFile: "m.bpf.o", Object: withoutBTF(t, minimal)}, []string{"no BTF", "clang -g"}},
		{"bad package", gen.Options{Package: "my-pkg", ObjectFile: "m.bpf.o", Object: minimal}, []string{`"my-pkg"`, "not a Go identifier"}},
		{"blank package", gen.Options{Package: "_", ObjectFile: "m.bpf.o", Object: minimal}, []string{`"_"`, "not a Go identifier"}},
		{"keyword package", gen.Options{Package: "func", ObjectFile: "m.bpf.o", Object: minimal}, []string{`"func"`, "not a Go identifier"}},
		{"object name with a newline", gen.Options{Package: "p", ObjectFile: "m\n.bpf.o", Object: minimal}, []string{`"m\n.bpf.o"`, "letters, digits and . _ + - only"}},
		{"object name with a quote", gen.Options{Package: "p", ObjectFile: "m\".bpf.o", Object: minimal}, []string{"letters, digits and . _ + - only"}},
		{"object in a directory", gen.Options{Package: "p", ObjectFile: "bpf/m.bpf.o", Object: minimal}, []string{"bare file name"}},
		{"unknown type", gen.Options{Package: "p", ObjectFile: "m.bpf.o", Object: minimal, Types: []string{"nosuch"}}, []string{"-type nosuch", "no type of that name", "struct nosuch *unused_nosuch __attribute__((unused));", "__type(value, struct nosuch)"}},
		{"type that is not one", gen.Options{Package: "p", ObjectFile: "m.bpf.o", Object: minimal, Types: []string{"handle_tp"}}, []string{"-type handle_tp", "not a struct, union, enum or typedef"}},
	} {
		t.Run(c.name, func(t *testing.T) {
			out, err := gen.Generate(c.opts)
			if err == nil {
				t.Fatalf("no error; generated %d bytes", len(out))
			}
			for _, w := range c.words {
				if !strings.Contains(err.Error(), w) {
					t.Errorf("error %q lacks %q", err, w)
				}
			}
		})
	}
}

// TestEveryObject generates the skeleton of every object under bpf/ inside a new module
// that requires bpfkit, the way a user would (through //go:generate go run
// github.com/bpfkit/bpfkit/cmd/bpfkit gen), builds them all into one program and runs
// it: each skeleton's Open builds every typed map accessor, which checks its generated
// key and value types against the map's BTF (package maps), and reads every section
// into its generated struct, which checks that layout too.
func TestEveryObject(t *testing.T) {
	if testing.Short() {
		t.Skip("builds a module of 25 generated packages; skipped with -short")
	}
	root, err := filepath.Abs("../..")
	if err != nil {
		t.Fatal(err)
	}
	var objects []string
	err = filepath.WalkDir(filepath.Join(root, "bpf"), func(path string, d os.DirEntry, err error) error {
		if err == nil && strings.HasSuffix(path, ".bpf.o") {
			objects = append(objects, path)
		}
		return err
	})
	if err != nil {
		t.Fatal(err)
	}
	if len(objects) < 20 {
		t.Fatalf("found only %d objects under bpf/", len(objects))
	}

	mod := t.TempDir()
	write := func(name, text string) {
		t.Helper()
		p := filepath.Join(mod, name)
		if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(p, []byte(text), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	goVersion := regexp.MustCompile(`(?m)^go (\S+)$`).FindSubmatch(readFile(t, filepath.Join(root, "go.mod")))
	write("go.mod", fmt.Sprintf("module example.com/user\n\ngo %s\n\nrequire github.com/bpfkit/bpfkit v0.0.0\n\nreplace github.com/bpfkit/bpfkit => %s\n", goVersion[1], root))
	write("go.sum", string(readFile(t, filepath.Join(root, "go.sum"))))
	var imports, calls strings.Builder
	for i, obj := range objects {
		pkg := fmt.Sprintf("p%d", i)
		write(pkg+"/gen.go", fmt.Sprintf("package %s\n\n//go:generate go run github.com/bpfkit/bpfkit/cmd/bpfkit gen -package %s -output skel.go %s\n", pkg, pkg, obj))
		fmt.Fprintf(&imports, "\t%q\n", "example.com/user/"+pkg)
		fmt.Fprintf(&calls, "\tcheck(%q, func() (any, error) { s, err := %s.Open(nil); if err == nil { defer s.Close() }; return s, err })\n", obj, pkg)
	}
	write("main.go", `package main

import (
	"fmt"
	"reflect"
	"strings"

`+imports.String()+`)

// check opens a skeleton and counts its maps: typed accessors, and loader maps.
func check(object string, open func() (any, error)) {
	s, err := open()
	if err != nil {
		fmt.Printf("FAIL %s: %v\n", object, err)
		return
	}
	v := reflect.ValueOf(s).Elem()
	m := v.FieldByName("Maps")
	typed, raw := 0, 0
	for i := range m.NumField() {
		f := m.Field(i)
		switch {
		case f.IsNil():
			fmt.Printf("FAIL %s: map field %s is nil\n", object, m.Type().Field(i).Name)
			return
		case strings.HasPrefix(f.Type().String(), "*maps."):
			typed++
		default:
			raw++
		}
	}
	sections := 0
	for i := range v.NumField() {
		if f := v.Field(i); f.Kind() == reflect.Pointer && !f.IsNil() && v.Type().Field(i).Name != "Object" {
			sections++
		}
	}
	fmt.Printf("OK %s typed=%d raw=%d sections=%d\n", object, typed, raw, sections)
}

func main() {
`+calls.String()+`}
`)
	run := func(args ...string) string {
		t.Helper()
		cmd := exec.Command("go", args...)
		cmd.Dir = mod
		cmd.Env = append(os.Environ(), "GOFLAGS=-mod=mod")
		out, err := cmd.CombinedOutput()
		if err != nil {
			t.Fatalf("go %s: %v\n%s", strings.Join(args, " "), err, out)
		}
		return string(out)
	}
	run("generate", "./...")
	run("vet", "./...")
	out := run("run", ".")

	lines := strings.Split(strings.TrimSpace(out), "\n")
	if len(lines) != len(objects) {
		t.Errorf("%d result lines for %d objects:\n%s", len(lines), len(objects), out)
	}
	totalTyped := 0
	for i, obj := range objects {
		var typed, raw, sections int
		line := ""
		for _, l := range lines {
			if strings.HasPrefix(l, "OK "+obj+" ") || strings.HasPrefix(l, "FAIL "+obj+":") {
				line = l
			}
		}
		if _, err := fmt.Sscanf(line, "OK "+obj+" typed=%d raw=%d sections=%d", &typed, &raw, &sections); err != nil {
			t.Errorf("%s: %s", obj, line)
			continue
		}
		// as many typed accessors as the generated file constructs
		src := readFile(t, filepath.Join(mod, fmt.Sprintf("p%d", i), "skel.go"))
		if want := strings.Count(string(src), "= maps.New"); typed != want {
			t.Errorf("%s: %d typed maps opened, the skeleton constructs %d", obj, typed, want)
		}
		totalTyped += typed
	}
	if totalTyped < 30 {
		t.Errorf("only %d typed map accessors checked over %d objects", totalTyped, len(objects))
	}
	t.Logf("%d objects, %d typed map accessors layout-checked", len(objects), totalTyped)
}
