// SPDX-License-Identifier: Apache-2.0

package gen_test

import (
	"fmt"
	"go/ast"
	"go/token"
	"os"
	"os/exec"
	"path/filepath"
	"reflect"
	"regexp"
	"strconv"
	"strings"
	"testing"

	"github.com/bpfkit/bpfkit/internal/gen"
)

// payloads are names that try to get code, a directive or a broken line into the
// generated file from where an object's name is written.
var payloads = map[string]string{
	"newline":        "x\nfunc init() { panic(\"injected\") }\n//",
	"carriage":       "x\rfunc init() { panic(\"injected\") }\r//",
	"end of comment": "x */ func init() { panic(\"injected\") } /* ",
	"quote":          "x\"); func init() { panic(\"injected\") }; var _ = (\"",
	"backquote":      "x`+func(){panic(\"injected\")}()+`",
	"backslash":      "x\\",
	"directive":      "x\n//go:linkname evil runtime.exit\n",
	"line separator": "x\u2028func init() { panic(\"injected\") }",
	"bidi override":  "x\u202e} ;)(tini cnuf",
	"invalid utf-8":  "x\xff\xfe",
	"BOM":            "x\ufeff",
	"space":          "x y",
	"long":           strings.Repeat("a", 513),
}

// identifierPlaces are the names gen makes Go identifiers of: it must refuse a name that
// is not a C identifier there. The section names are only ever quoted: gen must escape
// them.
var identifierPlaces = []string{"Struct", "Member", "Bitfield", "Union", "UnionMember", "Enum", "EnumValue", "Typedef", "Map", "Var", "Program"}

func withName(place, name string) objNames {
	n := plainNames
	v := reflect.ValueOf(&n).Elem().FieldByName(place)
	if place == "Section" {
		name = ".data." + name
	}
	v.SetString(name)
	return n
}

// TestHostileNames puts each payload in each place an object names something. Where the
// name becomes a Go identifier gen refuses it, naming the object and the name (quoted,
// so that the error is one line); in a section name it is escaped, and the file gen
// writes parses, declares only what a skeleton declares, type-checks, and quotes the
// section name so that it reads back as the object wrote it.
func TestHostileNames(t *testing.T) {
	for what, payload := range payloads {
		for _, place := range append(identifierPlaces, "Section", "ProgSection") {
			t.Run(what+"/"+place, func(t *testing.T) {
				n := withName(place, payload)
				obj, err := namedObject(n, false)
				if err != nil {
					t.Fatal(err)
				}
				src, err := gen.Generate(gen.Options{Package: "p", ObjectFile: "hostile.bpf.o", Object: obj})
				if place != "Section" && place != "ProgSection" {
					if err == nil {
						t.Fatalf("no error; generated:\n%s", src)
					}
					msg := err.Error()
					q := strconv.QuoteToASCII(payload)
					if len(q) > 40 {
						q = q[:40]
					}
					if !strings.Contains(msg, "hostile.bpf.o: ") || !strings.Contains(msg, q) || strings.ContainsAny(msg, "\n\r") {
						t.Errorf("error %q does not name the object and the quoted name %s on one line", msg, q)
					}
					return
				}
				if len(payload) > 512-len(".data.") {
					if err == nil || !strings.Contains(err.Error(), "longer than the kernel's limit") {
						t.Fatalf("over-long section name: err %v", err)
					}
					return
				}
				if err != nil {
					t.Fatal(err)
				}
				f, fset, err := checkSkeleton(src, "p", "hostile.bpf.o")
				if err != nil {
					t.Fatalf("%v\n%s", err, src)
				}
				if _, err := typeCheck(f, fset); err != nil {
					t.Fatalf("does not type-check: %v\n%s", err, src)
				}
				// the name reaches the loader, and the comment, as the object wrote it
				if place == "Section" {
					if got := stringArgs(f, "ReadSection"); len(got) != 1 || got[0] != n.Section {
						t.Errorf("ReadSection called with %q, want %q", got, n.Section)
					}
				} else if got := secComment(src); got != n.ProgSection {
					t.Errorf("the program's comment says SEC(%q), want %q", got, n.ProgSection)
				}
				if strings.ContainsAny(string(src), "\r\u2028\u202e\ufeff") || !isASCII(src) {
					t.Errorf("the file holds a raw control or non-ASCII character:\n%s", src)
				}
			})
		}
	}
}

// secComment is the section name in the first SEC(…) comment of the file.
func secComment(src []byte) string {
	_, rest, _ := strings.Cut(string(src), "SEC(")
	lit, _, _ := strings.Cut(rest, ")\n")
	s, err := strconv.Unquote(lit)
	if err != nil {
		return "unquoting " + lit + ": " + err.Error()
	}
	return s
}

func isASCII(b []byte) bool {
	for _, c := range b {
		if c >= 0x80 {
			return false
		}
	}
	return true
}

// stringArgs returns the string-literal arguments of every call of a method or function
// with that name.
func stringArgs(f *ast.File, name string) []string {
	var out []string
	ast.Inspect(f, func(n ast.Node) bool {
		call, ok := n.(*ast.CallExpr)
		if !ok {
			return true
		}
		sel, ok := call.Fun.(*ast.SelectorExpr)
		if !ok || sel.Sel.Name != name {
			return true
		}
		for _, a := range call.Args {
			if s, ok := stringLit(a); ok {
				out = append(out, s)
			}
		}
		return true
	})
	return out
}

// stringLit is the value of a string literal.
func stringLit(e ast.Expr) (string, bool) {
	lit, ok := e.(*ast.BasicLit)
	if !ok || lit.Kind != token.STRING {
		return "", false
	}
	s, err := strconv.Unquote(lit.Value)
	return s, err == nil
}

// TestGoWordsAsNames gives every place a C name that is a Go keyword, a predeclared
// identifier or a name the skeleton itself uses: gen must still write a file that
// type-checks, every name becoming an exported identifier of its own.
func TestGoWordsAsNames(t *testing.T) {
	words := []string{"func", "type", "init", "string", "nil", "iota", "_", "Open", "Maps", "Programs", "Object", "Load",
		"bpfObject", "asBytes", "bitsGet", "s", "err", "m", "unsafe", "loader", "maps", "embed", "x_2", "X", "Set"}
	for i, w := range words {
		var n objNames
		v := reflect.ValueOf(&n).Elem()
		for j := range v.NumField() {
			v.Field(j).SetString(words[(i+j)%len(words)])
		}
		n.Section = ".data." + w
		t.Run(w, func(t *testing.T) {
			obj, err := namedObject(n, false)
			if err != nil {
				t.Fatal(err)
			}
			src, err := gen.Generate(gen.Options{Package: "p", ObjectFile: "words.bpf.o", Object: obj})
			if err != nil {
				t.Fatal(err)
			}
			f, fset, err := checkSkeleton(src, "p", "words.bpf.o")
			if err != nil {
				t.Fatalf("%v\n%s", err, src)
			}
			if _, err := typeCheck(f, fset); err != nil {
				t.Fatalf("does not type-check: %v\n%s", err, src)
			}
		})
	}
}

// TestHostileSkeletonRuns builds and runs a program that imports the skeleton of an
// object whose section names carry code (the only names gen takes and does not refuse)
// — the way `bpfkit gen` on such an object first showed that it ran the object's code.
// The program must print what its main prints and nothing else.
func TestHostileSkeletonRuns(t *testing.T) {
	if testing.Short() {
		t.Skip("builds a program against loader (cgo); skipped with -short")
	}
	root, err := filepath.Abs("../..")
	if err != nil {
		t.Fatal(err)
	}
	n := plainNames
	n.Section = ".data.x\nfunc init() { println(\"INJECTED\") }\n//"
	n.ProgSection = "tp/x\"); func init() { println(\"INJECTED\") }; var _ = (\""
	obj, err := namedObject(n, false)
	if err != nil {
		t.Fatal(err)
	}
	src, err := gen.Generate(gen.Options{Package: "hostile", ObjectFile: "hostile.bpf.o", Object: obj})
	if err != nil {
		t.Fatal(err)
	}
	mod := t.TempDir()
	goVersion := regexp.MustCompile(`(?m)^go (\S+)$`).FindSubmatch(readFile(t, filepath.Join(root, "go.mod")))
	files := map[string][]byte{
		"go.mod":                  fmt.Appendf(nil, "module example.com/user\n\ngo %s\n\nrequire github.com/bpfkit/bpfkit v0.0.0\n\nreplace github.com/bpfkit/bpfkit => %s\n", goVersion[1], root),
		"go.sum":                  readFile(t, filepath.Join(root, "go.sum")),
		"hostile/hostile.skel.go": src,
		"hostile/hostile.bpf.o":   obj,
		"main.go":                 []byte("package main\n\nimport (\n\t\"fmt\"\n\n\t\"example.com/user/hostile\"\n)\n\nfunc main() {\n\tvar s *hostile.Hostile\n\tfmt.Println(\"main ran\", s.Close())\n}\n"),
	}
	for name, b := range files {
		p := filepath.Join(mod, name)
		if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(p, b, 0o644); err != nil {
			t.Fatal(err)
		}
	}
	cmd := exec.Command("go", "run", ".")
	cmd.Dir = mod
	cmd.Env = append(os.Environ(), "GOFLAGS=-mod=mod")
	out, err := cmd.CombinedOutput()
	if err != nil {
		t.Fatalf("go run: %v\n%s", err, out)
	}
	if string(out) != "main ran <nil>\n" {
		t.Errorf("the program printed %q, want only its main's line", out)
	}
}
