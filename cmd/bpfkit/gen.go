package main

import (
	"bytes"
	"flag"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strings"

	"github.com/bpfkit/bpfkit/internal/gen"
)

// stringList is a repeatable flag; each value may also hold several comma-separated names.
type stringList []string

func (l *stringList) String() string { return strings.Join(*l, ",") }

func (l *stringList) Set(v string) error {
	for _, s := range strings.Split(v, ",") {
		if s = strings.TrimSpace(s); s != "" {
			*l = append(*l, s)
		}
	}
	return nil
}

// runGen is `bpfkit gen`: write the typed Go skeleton of one object.
func runGen(args []string, stdout, stderr io.Writer) int {
	fs := flag.NewFlagSet("gen", flag.ContinueOnError)
	fs.SetOutput(stderr)
	pkg := fs.String("package", "", "Go package name (default: the object's stem, e.g. minimal)")
	output := fs.String("output", "", "Go file to write (default: STEM.skel.go in the current directory)")
	var types stringList
	fs.Var(&types, "type", "a C type (struct, union, enum or typedef name) to generate a Go type for; repeatable or comma-separated")
	fs.Usage = func() {
		fmt.Fprint(stderr, "usage: bpfkit gen [-package NAME] [-output FILE] [-type NAME]... OBJECT.bpf.o\n\n")
		fs.PrintDefaults()
	}
	if err := fs.Parse(args); err != nil {
		return exitUsage
	}
	if fs.NArg() != 1 {
		fs.Usage()
		return exitUsage
	}
	objPath := fs.Arg(0)
	stem := gen.Stem(objPath)
	if *pkg == "" {
		*pkg = goPackageName(stem)
	}
	if *output == "" {
		*output = stem + ".skel.go"
	}
	data, err := os.ReadFile(objPath)
	if err != nil {
		fmt.Fprintf(stderr, "bpfkit gen: %v\n", err)
		return exitUsage
	}
	embedName := filepath.Base(objPath)
	src, err := gen.Generate(gen.Options{Package: *pkg, ObjectFile: embedName, Object: data, Types: types})
	if err != nil {
		fmt.Fprintf(stderr, "bpfkit gen: %v\n", err)
		return exitFindings
	}
	// //go:embed reaches only the package's own directory: the object goes beside the
	// generated file, copied there when it was compiled elsewhere.
	if err := os.MkdirAll(filepath.Dir(*output), 0o755); err != nil {
		fmt.Fprintf(stderr, "bpfkit gen: %v\n", err)
		return exitFindings
	}
	dst := filepath.Join(filepath.Dir(*output), embedName)
	if err := copyIfDifferent(objPath, dst, data); err != nil {
		fmt.Fprintf(stderr, "bpfkit gen: %v\n", err)
		return exitFindings
	}
	if err := writeIfDifferent(*output, src); err != nil {
		fmt.Fprintf(stderr, "bpfkit gen: %v\n", err)
		return exitFindings
	}
	return exitOK
}

// goPackageName makes a package name of an object stem: lower case letters and digits.
func goPackageName(stem string) string {
	var b strings.Builder
	for _, r := range strings.ToLower(stem) {
		if r >= 'a' && r <= 'z' || r >= '0' && r <= '9' && b.Len() > 0 {
			b.WriteRune(r)
		}
	}
	if b.Len() == 0 {
		return "skel"
	}
	return b.String()
}

func copyIfDifferent(src, dst string, data []byte) error {
	if same, err := sameFile(src, dst); err == nil && same {
		return nil
	}
	return writeIfDifferent(dst, data)
}

func sameFile(a, b string) (bool, error) {
	sa, err := os.Stat(a)
	if err != nil {
		return false, err
	}
	sb, err := os.Stat(b)
	if err != nil {
		return false, err
	}
	return os.SameFile(sa, sb), nil
}

// writeIfDifferent leaves a file with the same contents alone (its modification time
// too), so that regenerating changes nothing.
func writeIfDifferent(path string, data []byte) error {
	if old, err := os.ReadFile(path); err == nil && bytes.Equal(old, data) {
		return nil
	}
	return os.WriteFile(path, data, 0o644)
}
