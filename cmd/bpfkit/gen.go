// SPDX-License-Identifier: Apache-2.0

package main

import (
	"bytes"
	"crypto/rand"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strings"

	"golang.org/x/sys/unix"

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
	pkg := fs.String("package", "", "Go package name (default: $GOPACKAGE, which go generate sets, when the output is in the current directory; else the object's stem, e.g. minimal)")
	output := fs.String("output", "", "Go file to write, below the current directory or absolute (default: STEM.skel.go in the current directory)")
	var types stringList
	fs.Var(&types, "type", "a C type (struct, union, enum or typedef name) to generate a Go type for, or MAP=TYPE: the record type of a ring buffer or perf event array, whose field becomes a typed reader; repeatable or comma-separated")
	var includes, cflags stringList
	clang := fs.String("cc", "", "for a .bpf.c: the compiler (default: $BPF_CLANG, else clang)")
	fs.Var(&includes, "I", "for a .bpf.c: an include directory; repeatable")
	fs.Func("cflags", "for a .bpf.c: more compiler flags, separated by spaces", func(v string) error {
		cflags = append(cflags, strings.Fields(v)...)
		return nil
	})
	vmlinux := fs.Bool("vmlinux", false, "for a .bpf.c: write vmlinux.h beside it from the running kernel's BTF (bpftool), when it is missing")
	fs.Usage = func() {
		fmt.Fprint(stderr, "usage: bpfkit gen [-package NAME] [-output FILE] [-type NAME|MAP=NAME]... OBJECT.bpf.o\n"+
			"       bpfkit gen [flags] [-cc CLANG] [-I DIR]... [-cflags FLAGS] [-vmlinux] SOURCE.bpf.c\n\n"+
			"A SOURCE.bpf.c is compiled first (clang -O2 -g -target bpf -D__TARGET_ARCH_…) into\n"+
			"SOURCE.bpf.o beside it.\n\n")
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
	source := strings.HasSuffix(objPath, ".c")
	stem := gen.Stem(strings.TrimSuffix(objPath, ".c"))
	if *output == "" {
		*output = stem + ".skel.go"
	}
	if *pkg == "" {
		if gp := os.Getenv("GOPACKAGE"); gp != "" && filepath.Dir(filepath.Clean(*output)) == "." {
			*pkg = gp
		} else {
			*pkg = goPackageName(stem)
		}
	}
	if err := checkOutput(*output); err != nil {
		fmt.Fprintf(stderr, "bpfkit gen: %v\n", err)
		return exitUsage
	}
	if !source && (*clang != "" || len(includes)+len(cflags) > 0 || *vmlinux) {
		fmt.Fprintf(stderr, "bpfkit gen: -cc, -I, -cflags and -vmlinux are for compiling a .bpf.c; %s is an object\n", objPath)
		return exitUsage
	}
	var data []byte
	var err error
	if source {
		if _, err := os.Stat(objPath); err != nil {
			fmt.Fprintf(stderr, "bpfkit gen: %v\n", err)
			return exitUsage
		}
		cc := *clang
		if cc == "" {
			if cc = os.Getenv("BPF_CLANG"); cc == "" {
				cc = "clang"
			}
		}
		if objPath, data, err = compile(objPath, compileOptions{clang: cc, includes: includes, cflags: cflags, vmlinux: *vmlinux}); err != nil {
			fmt.Fprintf(stderr, "bpfkit gen: %v\n", err)
			return exitFindings
		}
	} else if data, err = os.ReadFile(objPath); err != nil {
		fmt.Fprintf(stderr, "bpfkit gen: %v\n", err)
		return exitUsage
	}
	plain, records, err := splitTypes(types)
	if err != nil {
		fmt.Fprintf(stderr, "bpfkit gen: %v\n", err)
		return exitUsage
	}
	embedName := filepath.Base(objPath)
	src, err := gen.Generate(gen.Options{Package: *pkg, ObjectFile: embedName, Object: data, Types: plain, Records: records})
	if err != nil {
		fmt.Fprintf(stderr, "bpfkit gen: %v\n", err)
		return exitFindings
	}
	// //go:embed reaches only the package's own directory: the object goes beside the
	// generated file, copied there when it was compiled elsewhere.
	if err := writeOutputs(*output, objPath, embedName, data, src); err != nil {
		fmt.Fprintf(stderr, "bpfkit gen: %v\n", err)
		return exitFindings
	}
	return exitOK
}

// splitTypes sorts the -type values into type names and MAP=TYPE record types.
func splitTypes(types []string) (plain []string, records map[string]string, err error) {
	for _, t := range types {
		m, rec, ok := strings.Cut(t, "=")
		if !ok {
			plain = append(plain, t)
			continue
		}
		if m == "" || rec == "" {
			return nil, nil, fmt.Errorf("-type %q: give MAP=TYPE, a map and its record type", t)
		}
		if records == nil {
			records = map[string]string{}
		}
		if old, ok := records[m]; ok && old != rec {
			return nil, nil, fmt.Errorf("-type: map %q is given two record types, %q and %q", m, old, rec)
		}
		records[m] = rec
	}
	return plain, records, nil
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

// checkOutput refuses an -output that is not a Go file, or that leaves the current
// directory through "..".
func checkOutput(output string) error {
	if !strings.HasSuffix(output, ".go") || filepath.Base(output) == ".go" {
		return fmt.Errorf("-output %q: the skeleton is a Go source file: its name must end in .go", output)
	}
	if !filepath.IsAbs(output) && !filepath.IsLocal(output) {
		return fmt.Errorf("-output %q leaves the current directory: give a path below it, or an absolute path", output)
	}
	return nil
}

// writeOutputs writes the skeleton to output and the object (named embedName) beside
// it, without following a symlink: each file is written to a new temporary file in its
// directory and renamed over the old one, so that a symlink there is replaced, never
// written through. The directories of a relative output are walked from the current
// one with O_NOFOLLOW and made as needed, so that none of them can be a symlink either;
// an absolute output's directory is taken as it resolves (whoever typed it named it).
// A file whose contents are already right is left alone, its modification time too.
func writeOutputs(output, objPath, embedName string, object, skeleton []byte) error {
	dir, err := openDir(filepath.Dir(filepath.Clean(output)))
	if err != nil {
		return err
	}
	defer unix.Close(dir)
	// the object may be the file it would be copied to (compiled beside the output)
	var src, dst unix.Stat_t
	if unix.Stat(objPath, &src) == nil && unix.Fstatat(dir, embedName, &dst, unix.AT_SYMLINK_NOFOLLOW) == nil &&
		dst.Mode&unix.S_IFMT == unix.S_IFREG && src.Dev == dst.Dev && src.Ino == dst.Ino {
		object = nil
	}
	if object != nil {
		if err := writeAt(dir, filepath.Dir(output), embedName, object); err != nil {
			return err
		}
	}
	return writeAt(dir, filepath.Dir(output), filepath.Base(output), skeleton)
}

// openDir opens the directory dir (made, with its parents, when missing). A relative dir
// is walked one name at a time from the current directory, none of them followed if it
// is a symlink.
func openDir(dir string) (int, error) {
	if filepath.IsAbs(dir) {
		if err := os.MkdirAll(dir, 0o755); err != nil {
			return -1, err
		}
		fd, err := unix.Open(dir, unix.O_RDONLY|unix.O_DIRECTORY|unix.O_CLOEXEC, 0)
		if err != nil {
			return -1, &os.PathError{Op: "open", Path: dir, Err: err}
		}
		return fd, nil
	}
	fd, err := unix.Open(".", unix.O_RDONLY|unix.O_DIRECTORY|unix.O_CLOEXEC, 0)
	if err != nil {
		return -1, &os.PathError{Op: "open", Path: ".", Err: err}
	}
	walked := "."
	for _, name := range strings.Split(dir, string(filepath.Separator)) {
		if name == "." || name == "" {
			continue
		}
		walked = filepath.Join(walked, name)
		next, err := unix.Openat(fd, name, unix.O_RDONLY|unix.O_DIRECTORY|unix.O_NOFOLLOW|unix.O_CLOEXEC, 0)
		if errors.Is(err, unix.ENOENT) {
			if err = unix.Mkdirat(fd, name, 0o755); err == nil || errors.Is(err, unix.EEXIST) {
				next, err = unix.Openat(fd, name, unix.O_RDONLY|unix.O_DIRECTORY|unix.O_NOFOLLOW|unix.O_CLOEXEC, 0)
			}
		}
		unix.Close(fd)
		switch {
		case errors.Is(err, unix.ELOOP) || errors.Is(err, unix.ENOTDIR) && isSymlinkAt(walked):
			return -1, fmt.Errorf("%s is a symlink: bpfkit gen does not write through symlinks (give the directory it points to)", walked)
		case err != nil:
			return -1, &os.PathError{Op: "open", Path: walked, Err: err}
		}
		fd = next
	}
	return fd, nil
}

func isSymlinkAt(path string) bool {
	st, err := os.Lstat(path)
	return err == nil && st.Mode()&os.ModeSymlink != 0
}

// writeAt writes data to the file name in the directory dirfd (shown as dir in errors)
// through a new temporary file renamed over it, unless the file already holds data.
func writeAt(dirfd int, dir, name string, data []byte) error {
	path := filepath.Join(dir, name)
	if old, err := readAt(dirfd, name); err == nil && bytes.Equal(old, data) {
		return nil
	}
	var tmp string
	var fd int
	for {
		var rnd [8]byte
		if _, err := rand.Read(rnd[:]); err != nil {
			return err
		}
		tmp = fmt.Sprintf(".%s.%x.tmp", name, rnd)
		var err error
		fd, err = unix.Openat(dirfd, tmp, unix.O_WRONLY|unix.O_CREAT|unix.O_EXCL|unix.O_NOFOLLOW|unix.O_CLOEXEC, 0o644)
		if errors.Is(err, unix.EEXIST) {
			continue
		}
		if err != nil {
			return &os.PathError{Op: "create", Path: filepath.Join(dir, tmp), Err: err}
		}
		break
	}
	f := os.NewFile(uintptr(fd), filepath.Join(dir, tmp))
	_, err := f.Write(data)
	if cerr := f.Close(); err == nil {
		err = cerr
	}
	if err == nil {
		if err = unix.Renameat(dirfd, tmp, dirfd, name); err != nil {
			err = &os.LinkError{Op: "rename", Old: filepath.Join(dir, tmp), New: path, Err: err}
		}
	}
	if err != nil {
		unix.Unlinkat(dirfd, tmp, 0)
		return err
	}
	return nil
}

// readAt reads the regular file name in dirfd, without following a symlink.
func readAt(dirfd int, name string) ([]byte, error) {
	fd, err := unix.Openat(dirfd, name, unix.O_RDONLY|unix.O_NOFOLLOW|unix.O_NONBLOCK|unix.O_CLOEXEC, 0)
	if err != nil {
		return nil, err
	}
	f := os.NewFile(uintptr(fd), name)
	defer f.Close()
	st, err := f.Stat()
	if err != nil || !st.Mode().IsRegular() {
		return nil, errors.New("not a regular file")
	}
	return io.ReadAll(f)
}
