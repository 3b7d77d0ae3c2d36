// SPDX-License-Identifier: Apache-2.0

package main

import (
	"bufio"
	"bytes"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"strings"
)

// compileOptions say how `bpfkit gen` compiles a .bpf.c.
type compileOptions struct {
	clang    string   // the compiler: -cc, or $BPF_CLANG, or clang
	includes []string // -I directories, as given (relative to the current directory)
	cflags   []string // more flags, from -cflags
	vmlinux  bool     // write vmlinux.h beside the source when it is missing
}

// kernelBTF is the running kernel's BTF, which -vmlinux dumps as C.
const kernelBTF = "/sys/kernel/btf/vmlinux"

// targetArch is the __TARGET_ARCH_ name libbpf's bpf_tracing.h expects for a Go
// architecture (the one go generate runs for, $GOARCH, else this one's).
func targetArch() (string, error) {
	goarch := os.Getenv("GOARCH")
	if goarch == "" {
		goarch = runtime.GOARCH
	}
	switch goarch {
	case "amd64", "386":
		return "x86", nil
	case "arm64":
		return "arm64", nil
	case "arm":
		return "arm", nil
	case "riscv64":
		return "riscv", nil
	case "s390x":
		return "s390", nil
	case "ppc64", "ppc64le":
		return "powerpc", nil
	case "loong64":
		return "loongarch", nil
	case "mips", "mipsle", "mips64", "mips64le":
		return "mips", nil
	}
	return "", fmt.Errorf("GOARCH %q: no BPF target architecture (__TARGET_ARCH_…) for it", goarch)
}

// compile builds src (a .bpf.c) into the object beside it (X.bpf.c → X.bpf.o) with
// clang -O2 -g -target bpf, as libbpf-bootstrap's Makefiles do, and returns the
// object's path and bytes. The compiler runs in the source's directory with the paths
// it is given made relative to it, so that the object does not depend on where the
// tree is checked out (go generate's output is compared in CI). An object already
// holding the same bytes is left alone.
func compile(src string, o compileOptions) (string, []byte, error) {
	dir, base := filepath.Split(src)
	if dir == "" {
		dir = "."
	}
	absDir, err := filepath.Abs(dir)
	if err != nil {
		return "", nil, err
	}
	objName := strings.TrimSuffix(base, ".c") + ".o"
	objPath := filepath.Join(dir, objName)
	if st, err := os.Stat(src); err != nil {
		return "", nil, err
	} else if !st.Mode().IsRegular() {
		return "", nil, fmt.Errorf("%s is not a regular file", src)
	}
	if o.vmlinux {
		if err := writeVmlinux(filepath.Join(dir, "vmlinux.h")); err != nil {
			return "", nil, err
		}
	}
	clang, err := exec.LookPath(o.clang)
	if err != nil {
		return "", nil, fmt.Errorf("compiling %s needs clang (≥ 14; Debian: apt-get install clang), or give it with -cc or $BPF_CLANG: %w", src, err)
	}
	arch, err := targetArch()
	if err != nil {
		return "", nil, err
	}
	args := []string{"-O2", "-g", "-target", "bpf", "-D__TARGET_ARCH_" + arch, "-Wall",
		"-fdebug-prefix-map=" + absDir + "=.", "-fdebug-compilation-dir=."}
	for _, inc := range o.includes {
		abs, err := filepath.Abs(inc)
		if err != nil {
			return "", nil, err
		}
		rel, err := filepath.Rel(absDir, abs)
		if err != nil {
			rel = abs
		}
		args = append(args, "-I"+rel)
	}
	// -target bpf drops the host's own include directories (asm/types.h lives in
	// /usr/include/x86_64-linux-gnu on Debian): add them after everything else, as
	// libbpf-bootstrap does.
	for _, d := range systemIncludes(clang) {
		args = append(args, "-idirafter", d)
	}
	args = append(args, o.cflags...)
	tmp, err := os.CreateTemp(dir, "."+objName+".*.tmp")
	if err != nil {
		return "", nil, err
	}
	tmpName := tmp.Name()
	err = tmp.Chmod(0o644)
	tmp.Close()
	defer os.Remove(tmpName)
	if err != nil {
		return "", nil, err
	}
	args = append(args, "-c", base, "-o", filepath.Base(tmpName))
	cmd := exec.Command(clang, args...)
	cmd.Dir = dir
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	if err := cmd.Run(); err != nil {
		return "", nil, fmt.Errorf("compiling %s: %s %s: %w\n%s", src, filepath.Base(clang), strings.Join(args, " "), err, strings.TrimSpace(stderr.String()))
	}
	obj, err := os.ReadFile(tmpName)
	if err != nil {
		return "", nil, err
	}
	if old, err := os.ReadFile(objPath); err == nil && bytes.Equal(old, obj) {
		return objPath, obj, nil
	}
	if err := os.Rename(tmpName, objPath); err != nil {
		return "", nil, err
	}
	return objPath, obj, nil
}

// systemIncludes lists the directories clang searches for <…> headers when it compiles
// for the host (clang -v -E -), which -target bpf leaves out.
func systemIncludes(clang string) []string {
	cmd := exec.Command(clang, "-v", "-E", "-x", "c", "-")
	cmd.Stdin = strings.NewReader("")
	var out bytes.Buffer
	cmd.Stderr = &out
	if cmd.Run() != nil {
		return nil
	}
	var dirs []string
	in := false
	sc := bufio.NewScanner(&out)
	for sc.Scan() {
		line := sc.Text()
		switch {
		case strings.HasPrefix(line, "#include <...> search starts here:"):
			in = true
		case strings.HasPrefix(line, "End of search list."):
			in = false
		case in:
			dirs = append(dirs, strings.TrimSpace(line))
		}
	}
	return dirs
}

// writeVmlinux writes the running kernel's BTF as C declarations (bpftool btf dump file
// /sys/kernel/btf/vmlinux format c) to path, unless path exists: a vmlinux.h is made once
// and kept with the source, so that the object does not change with the machine that
// runs go generate. Delete it to make it again.
func writeVmlinux(path string) error {
	if _, err := os.Lstat(path); err == nil {
		return nil
	} else if !errors.Is(err, os.ErrNotExist) {
		return err
	}
	if _, err := os.Stat(kernelBTF); err != nil {
		return fmt.Errorf("-vmlinux: the running kernel has no BTF (%w): it needs CONFIG_DEBUG_INFO_BTF", err)
	}
	bpftool, err := exec.LookPath("bpftool")
	if err != nil {
		return fmt.Errorf("-vmlinux needs bpftool to dump %s as C (Debian: apt-get install bpftool): %w", kernelBTF, err)
	}
	cmd := exec.Command(bpftool, "btf", "dump", "file", kernelBTF, "format", "c")
	var stdout, stderr bytes.Buffer
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	if err := cmd.Run(); err != nil {
		return fmt.Errorf("-vmlinux: bpftool btf dump file %s format c: %w\n%s", kernelBTF, err, strings.TrimSpace(stderr.String()))
	}
	tmp, err := os.CreateTemp(filepath.Dir(path), ".vmlinux.h.*.tmp")
	if err != nil {
		return err
	}
	_, err = tmp.Write(stdout.Bytes())
	if err == nil {
		err = tmp.Chmod(0o644)
	}
	if cerr := tmp.Close(); err == nil {
		err = cerr
	}
	if err == nil {
		err = os.Rename(tmp.Name(), path)
	}
	if err != nil {
		os.Remove(tmp.Name())
		return fmt.Errorf("writing %s: %w", path, err)
	}
	return nil
}
