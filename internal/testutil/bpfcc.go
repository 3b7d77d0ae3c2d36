// SPDX-License-Identifier: Apache-2.0

package testutil

import (
	"bytes"
	elfpkg "debug/elf"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"strings"
	"testing"

	"github.com/cilium/ebpf/btf"
)

// CompileBPF writes src to dir/name.bpf.c, compiles it with clang-19 as the repository's
// objects are compiled (bpf/include on the include path, and dir for headers a test
// writes), and returns the object's bytes; the object is left at dir/name.bpf.o. Without
// clang-19 the test skips, or fails under BPFKIT_REQUIRE_PRIVILEGED=1.
func CompileBPF(tb testing.TB, dir, name, src string) []byte {
	tb.Helper()
	RequireTool(tb, "clang-19")
	c, obj := filepath.Join(dir, name+".bpf.c"), filepath.Join(dir, name+".bpf.o")
	if err := os.WriteFile(c, []byte(src), 0o644); err != nil {
		tb.Fatal(err)
	}
	arch, err := exec.Command("uname", "-m").Output()
	if err != nil {
		tb.Fatal(err)
	}
	cc := exec.Command("clang-19", "-O2", "-g", "-target", "bpf", "-Wall",
		"-I/usr/include/"+strings.TrimSpace(string(arch))+"-linux-gnu", "-I"+repoFile("bpf", "include"), "-I"+dir, "-c", c, "-o", obj)
	if out, err := cc.CombinedOutput(); err != nil {
		tb.Fatalf("%v: %v\n%s", cc, err, out)
	}
	elf, err := os.ReadFile(obj)
	if err != nil {
		tb.Fatal(err)
	}
	return elf
}

// LinkBPF links the objects parts (paths) into dir/name.bpf.o with bpftool gen object, as
// sched_ext's schedulers are linked from their parts, and returns its bytes. Without
// bpftool the test skips, or fails under BPFKIT_REQUIRE_PRIVILEGED=1.
func LinkBPF(tb testing.TB, dir, name string, parts ...string) []byte {
	tb.Helper()
	RequireTool(tb, "bpftool")
	linked := filepath.Join(dir, name+".bpf.o")
	link := exec.Command("bpftool", append([]string{"gen", "object", linked}, parts...)...)
	if out, err := link.CombinedOutput(); err != nil {
		tb.Fatalf("%v: %v\n%s", link, err, out)
	}
	elf, err := os.ReadFile(linked)
	if err != nil {
		tb.Fatal(err)
	}
	return elf
}

// repoFile is a path in the repository, from this file's place in it.
func repoFile(elem ...string) string {
	_, here, _, _ := runtime.Caller(0)
	return filepath.Join(append([]string{filepath.Dir(here), "..", ".."}, elem...)...)
}

// weakPart and strongPart define the variable level __weak in one part and strong in the
// other, as sched_ext's parts define is_autopilot_on.
const weakPart = `// SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause)
#include <linux/bpf.h>
#include <bpf/bpf_helpers.h>

const volatile __u32 first = 7;
const volatile __u32 __weak level;

SEC("tc") int read_level(struct __sk_buff *skb) { return level; }

char LICENSE[] SEC("license") = "Dual BSD/GPL";
`

const strongPart = `// SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause)
#include <linux/bpf.h>
#include <bpf/bpf_helpers.h>

const volatile __u64 other[4] = {1, 2, 3, 4};
const volatile __u32 level = 1;

SEC("tc") int read_other(struct __sk_buff *skb) { return other[1] + level; }
`

// WeakStrongObject compiles and links an object whose .rodata variable level (a __u32,
// initial value 1) is defined __weak in one part and strong in the other: libbpf's linker
// leaves its DATASEC entry at the weak copy's offset, and its symbol, which the code and
// libbpf use, at the strong copy's. Program read_level returns level. It returns the
// object and both offsets; the test fails if they agree (the linker then no longer
// shows what the test is about).
func WeakStrongObject(tb testing.TB) (elf []byte, datasecOff, symbolOff uint32) {
	tb.Helper()
	dir := tb.TempDir()
	CompileBPF(tb, dir, "weak_part", weakPart)
	CompileBPF(tb, dir, "strong_part", strongPart)
	elf = LinkBPF(tb, dir, "weak_strong", filepath.Join(dir, "weak_part.bpf.o"), filepath.Join(dir, "strong_part.bpf.o"))
	f, err := elfpkg.NewFile(bytes.NewReader(elf))
	if err != nil {
		tb.Fatal(err)
	}
	syms, err := f.Symbols()
	if err != nil {
		tb.Fatal(err)
	}
	found := false
	for _, s := range syms {
		if s.Name == "level" && elfpkg.ST_TYPE(s.Info) == elfpkg.STT_OBJECT {
			symbolOff, found = uint32(s.Value), true
		}
	}
	spec, err := btf.LoadSpecFromReader(bytes.NewReader(elf))
	if err != nil {
		tb.Fatal(err)
	}
	var ds *btf.Datasec
	if err := spec.TypeByName(".rodata", &ds); err != nil {
		tb.Fatal(err)
	}
	for _, vs := range ds.Vars {
		if v, ok := vs.Type.(*btf.Var); ok && v.Name == "level" {
			datasecOff = vs.Offset
		}
	}
	if !found || datasecOff == symbolOff {
		tb.Fatalf("the linked object places level at DATASEC offset %d and symbol offset %d (symbol found: %v): bpftool's linker no longer leaves them apart, and the test shows nothing", datasecOff, symbolOff, found)
	}
	return elf, datasecOff, symbolOff
}
