// SPDX-License-Identifier: Apache-2.0

package main

import (
	"bytes"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/bpfkit/bpfkit/internal/testutil"
)

// ringSource is a .bpf.c with a ring buffer of struct event, whose size comes from a
// header in an include directory.
const ringSource = `// SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause)
#include <linux/bpf.h>
#include <bpf/bpf_helpers.h>
#include "defs.h"

char LICENSE[] SEC("license") = "Dual BSD/GPL";

struct event {
	__u32 pid;
	char comm[COMM_LEN];
};
struct event *unused_event __attribute__((unused));

struct {
	__uint(type, BPF_MAP_TYPE_RINGBUF);
	__uint(max_entries, 4096);
} events SEC(".maps");

SEC("tp/syscalls/sys_enter_getpid")
int handle(void *ctx)
{
	struct event *e = bpf_ringbuf_reserve(&events, sizeof(*e), 0);

	if (!e)
		return 0;
	e->pid = bpf_get_current_pid_tgid() >> 32;
	bpf_get_current_comm(e->comm, sizeof(e->comm));
	bpf_ringbuf_submit(e, 0);
	return 0;
}
`

func writeFiles(t *testing.T, dir string, files map[string]string) {
	t.Helper()
	for name, text := range files {
		p := filepath.Join(dir, name)
		if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(p, []byte(text), 0o644); err != nil {
			t.Fatal(err)
		}
	}
}

func needClang(t *testing.T) {
	t.Helper()
	testutil.RequireTool(t, "clang")
}

// TestGenFromC compiles a .bpf.c into the object beside it and generates the skeleton:
// the include directory given relative to the current directory is found from the
// source's, the object holds no path of the machine, and a second run changes nothing.
func TestGenFromC(t *testing.T) {
	needClang(t)
	dir := t.TempDir()
	writeFiles(t, dir, map[string]string{"src/ring.bpf.c": ringSource, "src/inc/defs.h": "#define COMM_LEN 16\n"})
	t.Chdir(dir)
	args := []string{"gen", "-I", "src/inc", "-type", "events=event", "-package", "ring", "-output", "out/ring.skel.go", "src/ring.bpf.c"}
	if code, _, stderr := runArgs(args...); code != 0 {
		t.Fatalf("exit %d: %s", code, stderr)
	}
	obj, err := os.ReadFile("src/ring.bpf.o")
	if err != nil {
		t.Fatalf("no object beside the source: %v", err)
	}
	if copied, err := os.ReadFile("out/ring.bpf.o"); err != nil || !bytes.Equal(copied, obj) {
		t.Errorf("the object was not copied beside the skeleton: %v", err)
	}
	if bytes.Contains(obj, []byte(dir)) {
		t.Errorf("the object holds the directory it was built in, %s: it would differ on every machine", dir)
	}
	skel, err := os.ReadFile("out/ring.skel.go")
	if err != nil {
		t.Fatal(err)
	}
	for _, want := range []string{"Events *maps.RingBuf[Event]", "Comm [16]byte", "//go:embed ring.bpf.o"} {
		if !bytes.Contains(skel, []byte(want)) {
			t.Errorf("the skeleton lacks %q", want)
		}
	}

	// again: the same bytes, nothing rewritten
	old := time.Unix(1, 0)
	for _, f := range []string{"src/ring.bpf.o", "out/ring.skel.go", "out/ring.bpf.o"} {
		if err := os.Chtimes(f, old, old); err != nil {
			t.Fatal(err)
		}
	}
	if code, _, stderr := runArgs(args...); code != 0 {
		t.Fatalf("second run: exit %d: %s", code, stderr)
	}
	for _, f := range []string{"src/ring.bpf.o", "out/ring.skel.go", "out/ring.bpf.o"} {
		if st, err := os.Stat(f); err != nil || !st.ModTime().Equal(old) {
			t.Errorf("%s was rewritten by a run that changed nothing", f)
		}
	}
	ents, _ := os.ReadDir("src")
	for _, e := range ents {
		if strings.HasSuffix(e.Name(), ".tmp") {
			t.Errorf("temporary file %s left behind", e.Name())
		}
	}

	// go generate's $GOPACKAGE names the package of a skeleton written beside it
	t.Setenv("GOPACKAGE", "mine")
	if code, _, stderr := runArgs("gen", "-I", "src/inc", "src/ring.bpf.c"); code != 0 {
		t.Fatalf("exit %d: %s", code, stderr)
	}
	if b, err := os.ReadFile("ring.skel.go"); err != nil || !bytes.Contains(b, []byte("\npackage mine\n")) {
		t.Errorf("ring.skel.go is not of package mine ($GOPACKAGE): %v", err)
	}
}

func TestGenFromCErrors(t *testing.T) {
	needClang(t)
	dir := t.TempDir()
	writeFiles(t, dir, map[string]string{
		"bad.bpf.c":  "int oops(void) { return nope; }\n",
		"ring.bpf.c": ringSource,
	})
	minimal := filepath.Join("..", "..", "bpf", "minimal.bpf.o")
	for _, c := range []struct {
		name string
		args []string
		code int
		err  []string
	}{
		{"compile error", []string{"gen", "-output", filepath.Join(dir, "x.skel.go"), filepath.Join(dir, "bad.bpf.c")}, 1,
			[]string{"compiling " + filepath.Join(dir, "bad.bpf.c"), "-target bpf", "use of undeclared identifier 'nope'"}},
		{"missing header", []string{"gen", "-output", filepath.Join(dir, "x.skel.go"), filepath.Join(dir, "ring.bpf.c")}, 1,
			[]string{"'defs.h' file not found"}},
		{"no such compiler", []string{"gen", "-cc", "clang-nosuch", "-output", filepath.Join(dir, "x.skel.go"), filepath.Join(dir, "ring.bpf.c")}, 1,
			[]string{"needs clang", "-cc or $BPF_CLANG", "clang-nosuch"}},
		{"missing source", []string{"gen", "-output", filepath.Join(dir, "x.skel.go"), filepath.Join(dir, "nope.bpf.c")}, 2,
			[]string{"no such file"}},
		{"compiler flags for an object", []string{"gen", "-I", dir, "-output", filepath.Join(dir, "x.skel.go"), minimal}, 2,
			[]string{"-cc, -I, -cflags and -vmlinux are for compiling a .bpf.c"}},
		{"record type without a map", []string{"gen", "-type", "=event", "-output", filepath.Join(dir, "x.skel.go"), minimal}, 2,
			[]string{`-type "=event": give MAP=TYPE`}},
	} {
		t.Run(c.name, func(t *testing.T) {
			code, _, stderr := runArgs(c.args...)
			if code != c.code {
				t.Errorf("exit %d, want %d: %s", code, c.code, stderr)
			}
			for _, w := range c.err {
				if !strings.Contains(stderr, w) {
					t.Errorf("stderr lacks %q:\n%s", w, stderr)
				}
			}
		})
	}
	for _, f := range []string{"bad.bpf.o", "x.skel.go", "ring.bpf.o"} {
		if _, err := os.Stat(filepath.Join(dir, f)); err == nil {
			t.Errorf("%s written although gen failed", f)
		}
	}
}

// TestGenVmlinux: -vmlinux writes vmlinux.h from the running kernel's BTF beside the
// source, which then compiles against it; an existing vmlinux.h is kept.
func TestGenVmlinux(t *testing.T) {
	needClang(t)
	if _, err := os.Stat(kernelBTF); err != nil {
		t.Skipf("the running kernel has no BTF: %v", err)
	}
	testutil.RequireTool(t, "bpftool")
	dir := t.TempDir()
	writeFiles(t, dir, map[string]string{"task.bpf.c": `#include "vmlinux.h"
#include <bpf/bpf_helpers.h>
#include <bpf/bpf_core_read.h>
char LICENSE[] SEC("license") = "Dual BSD/GPL";
__u32 seen_ppid;
SEC("tp_btf/sched_process_exec")
int on_exec(u64 *ctx)
{
	struct task_struct *t = (void *)bpf_get_current_task();
	seen_ppid = BPF_CORE_READ(t, real_parent, tgid);
	return 0;
}
`})
	out := filepath.Join(dir, "task.skel.go")
	if code, _, stderr := runArgs("gen", "-vmlinux", "-output", out, filepath.Join(dir, "task.bpf.c")); code != 0 {
		t.Fatalf("exit %d: %s", code, stderr)
	}
	h, err := os.ReadFile(filepath.Join(dir, "vmlinux.h"))
	if err != nil || !bytes.Contains(h, []byte("struct task_struct {")) {
		t.Fatalf("no vmlinux.h with struct task_struct beside the source: %v", err)
	}
	if b, err := os.ReadFile(out); err != nil || !bytes.Contains(b, []byte("SeenPpid uint32")) {
		t.Fatalf("skeleton: %v", err)
	}
	// kept: a vmlinux.h of one's own is not replaced
	mine := []byte("/* mine */\n" + string(h))
	if err := os.WriteFile(filepath.Join(dir, "vmlinux.h"), mine, 0o644); err != nil {
		t.Fatal(err)
	}
	if code, _, stderr := runArgs("gen", "-vmlinux", "-output", out, filepath.Join(dir, "task.bpf.c")); code != 0 {
		t.Fatalf("second run: exit %d: %s", code, stderr)
	}
	if b, _ := os.ReadFile(filepath.Join(dir, "vmlinux.h")); !bytes.Equal(b, mine) {
		t.Error("an existing vmlinux.h was replaced")
	}
}
