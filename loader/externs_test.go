// SPDX-License-Identifier: Apache-2.0

package loader_test

import (
	"bufio"
	"bytes"
	"compress/gzip"
	"encoding/binary"
	"errors"
	"fmt"
	"os"
	"strconv"
	"strings"
	"syscall"
	"testing"

	"golang.org/x/sys/unix"

	"github.com/bpfkit/bpfkit/bpf"
	"github.com/bpfkit/bpfkit/loader"
)

// kernelConfig reads the running kernel's configuration, as libbpf does for kconfig
// externs; nil when the kernel exposes none.
func kernelConfig(t *testing.T) map[string]string {
	t.Helper()
	var r *bufio.Scanner
	if f, err := os.Open("/proc/config.gz"); err == nil {
		defer f.Close()
		z, err := gzip.NewReader(f)
		if err != nil {
			t.Fatal(err)
		}
		r = bufio.NewScanner(z)
	} else {
		var u unix.Utsname
		_ = unix.Uname(&u)
		f, err := os.Open("/boot/config-" + unix.ByteSliceToString(u.Release[:]))
		if err != nil {
			return nil
		}
		defer f.Close()
		r = bufio.NewScanner(f)
	}
	cfg := map[string]string{}
	for r.Scan() {
		if k, v, ok := strings.Cut(r.Text(), "="); ok && !strings.HasPrefix(k, "#") {
			cfg[k] = v
		}
	}
	return cfg
}

// kernelVersionCode is LINUX_KERNEL_VERSION as libbpf computes it from uname.
func kernelVersionCode(t *testing.T) uint64 {
	t.Helper()
	var u unix.Utsname
	if err := unix.Uname(&u); err != nil {
		t.Fatal(err)
	}
	var a, b, c uint64
	fmt.Sscanf(unix.ByteSliceToString(u.Release[:]), "%d.%d.%d", &a, &b, &c)
	return a<<16 | b<<8 | min(c, 255)
}

// TestOpenExterns: an object with typed and untyped __ksym externs (weak and strong)
// and kconfig externs opens; only its .bss variables are globals; libbpf resolves the
// externs at Load. The typed ksym of a data symbol needs a kernel that exports data
// symbols' addresses (CONFIG_KALLSYMS_ALL): where it does not, Load fails with the
// verifier's words naming it, and the other program loads alone.
func TestOpenExterns(t *testing.T) {
	cfg := kernelConfig(t)
	if cfg == nil {
		t.Skip("the kernel exposes no configuration (/proc/config.gz, /boot/config-*): libbpf cannot resolve kconfig externs")
	}
	elf := testObject(t, "ksyms.bpf.o")
	obj := open(t, "ksyms.bpf.o", elf, &loader.Options{Logger: discardLogger()})
	if err := obj.SetGlobal("target_pid", uint32(os.Getpid())); err != nil {
		t.Fatal(err)
	}
	for _, name := range []string{"bpf_prog_active", "bpf_prog_put", "LINUX_KERNEL_VERSION", "CONFIG_HZ"} {
		if err := obj.SetGlobal(name, int32(0)); !errors.Is(err, loader.ErrNotFound) {
			t.Errorf("SetGlobal(%q), an extern: %v, want ErrNotFound", name, err)
		}
	}
	err := obj.Load()
	allLoaded := err == nil
	if err != nil {
		var ve *loader.VerifierError
		if cfg["CONFIG_KALLSYMS_ALL"] == "y" || !errors.As(err, &ve) || ve.Program != "typed" || !strings.Contains(ve.Message, "bpf_prog_active") {
			t.Fatalf("Load: %v, want success or (without CONFIG_KALLSYMS_ALL) the verifier naming bpf_prog_active", err)
		}
		obj = open(t, "ksyms.bpf.o", elf, nil)
		if err := obj.SetGlobal("target_pid", uint32(os.Getpid())); err != nil {
			t.Fatal(err)
		}
		if err := progOf(t, obj, "typed").SetAutoload(false); err != nil {
			t.Fatal(err)
		}
		load(t, obj)
	}
	if err := obj.Attach(); err != nil {
		t.Fatal(err)
	}
	var kver uint64
	waitFor(t, "the untyped program's run", func() bool {
		unix.Getppid()
		_ = obj.Global("kver", &kver)
		return kver != 0
	})
	hz, _ := strconv.ParseUint(cfg["CONFIG_HZ"], 10, 64)
	want := map[string]uint64{"kver": kernelVersionCode(t), "hz": hz, "bpf_syscall": 1, "no_such_option": 0,
		"have_put": 1, "have_missing": 0, "have_missing_var": 0}
	for name, w := range want {
		var got uint64
		if err := obj.Global(name, &got); err != nil {
			t.Fatal(err)
		}
		if got != w {
			t.Errorf("%s = %d, want %d", name, got, w)
		}
	}
	if allLoaded {
		var active int64 = -1
		waitFor(t, "the typed program's run", func() bool {
			unix.Getpid()
			_ = obj.Global("active", &active)
			return active >= 0
		})
	}
}

// withoutBTF returns a copy of an object whose .BTF and .BTF.ext sections are renamed
// (.XTF…), which is what libbpf and cilium/ebpf see of an object built without -g.
func withoutBTF(t *testing.T, elf []byte) []byte {
	t.Helper()
	b := bytes.Clone(elf)
	le := binary.LittleEndian
	shoff, shentsize, shstrndx := le.Uint64(b[0x28:]), uint64(le.Uint16(b[0x3a:])), uint64(le.Uint16(b[0x3e:]))
	sh := b[shoff+shstrndx*shentsize:]
	off, size := le.Uint64(sh[0x18:]), le.Uint64(sh[0x20:])
	names := b[off : off+size]
	if n := bytes.Count(names, []byte(".BTF")); n == 0 {
		t.Fatal("the object has no .BTF section to remove")
	}
	copy(names, bytes.ReplaceAll(names, []byte(".BTF"), []byte(".XTF")))
	return b
}

// TestObjectWithoutBTF: an object built without -g whose maps need BTF fails to open
// with an error that says to build it with -g (not ENOENT, libbpf's errno); one that
// needs none opens and loads, and what needs BTF says so.
func TestObjectWithoutBTF(t *testing.T) {
	var logs strings.Builder
	_, err := loader.OpenBytes("verifier.bpf.o", withoutBTF(t, testObject(t, "verifier.bpf.o")), &loader.Options{Logger: textLogger(&logs)})
	if !errors.Is(err, loader.ErrNoBTF) || errors.Is(err, syscall.ENOENT) {
		t.Fatalf("opening an object without BTF whose maps need it: %v, want ErrNoBTF", err)
	}
	if miss := missingWords(err.Error(), "verifier.bpf.o", "compile it with clang -g", "BTF is required"); len(miss) > 0 || strings.Contains(err.Error(), "no such file") {
		t.Fatalf("%q lacks %q, or says ENOENT", err, miss)
	}
	if strings.Contains(logs.String(), "level=WARN") {
		t.Errorf("libbpf's warning was logged besides the error:\n%s", logs.String())
	}

	obj := open(t, "minimal.bpf.o", withoutBTF(t, bpf.Minimal), nil)
	if err := obj.SetGlobal("my_pid", int32(1)); !errors.Is(err, loader.ErrNotFound) || !strings.Contains(err.Error(), "clang -g") {
		t.Errorf("SetGlobal without BTF: %v, want ErrNotFound saying to build with -g", err)
	}
	load(t, obj)

	// The verifier's complaint about an object without line info locates the
	// instruction instead.
	obj = open(t, "xdpbad.bpf.o", withoutBTF(t, testObject(t, "xdpbad.bpf.o")), &loader.Options{Logger: discardLogger()})
	var ve *loader.VerifierError
	if err := obj.Load(); !errors.As(err, &ve) || ve.File != "" || ve.Insn != 5 || !strings.Contains(err.Error(), "at instruction 5: invalid access to packet") {
		t.Fatalf("xdpbad without line info: %v", err)
	}
}

// TestVerifierErrorExplains: the rejection of xdpbad.bpf.o says where and why in its
// message, the whole log with %+v, and nothing of it is logged as a warning.
func TestVerifierErrorExplains(t *testing.T) {
	var logs strings.Builder
	obj := open(t, "xdpbad.bpf.o", testObject(t, "xdpbad.bpf.o"), &loader.Options{Logger: textLogger(&logs)})
	err := obj.Load()
	var ve *loader.VerifierError
	if !errors.As(err, &ve) {
		t.Fatalf("Load = %v, want a *VerifierError", err)
	}
	if miss := missingWords(err.Error(), `program "xdp_bad" of xdpbad.bpf.o`, "xdpbad.bpf.c:17", "invalid access to packet, off=12 size=1", "R2 offset is outside of the packet"); len(miss) > 0 {
		t.Errorf("%q lacks %q", err, miss)
	}
	if ve.Insn != 5 || ve.Line != 17 || !strings.Contains(ve.Source, "data + 12") {
		t.Errorf("instruction %d line %d source %q", ve.Insn, ve.Line, ve.Source)
	}
	if full := fmt.Sprintf("%+v", err); !strings.Contains(full, strings.TrimSpace(ve.Log)) || !strings.Contains(full, "r1 = *(u8 *)(r2 +0)") {
		t.Errorf("%%+v lacks the log:\n%s", full)
	}
	if !errors.Is(err, syscall.EACCES) {
		t.Errorf("%v does not unwrap to EACCES", err)
	}
	for _, line := range strings.Split(logs.String(), "\n") {
		if strings.Contains(line, "level=WARN") {
			t.Errorf("logged as a warning besides the error: %s", line)
		}
	}
}
