// SPDX-License-Identifier: Apache-2.0

package kerneltest

import (
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/bpfkit/bpfkit/internal/testutil"
	"github.com/bpfkit/bpfkit/spinlock"
)

// arenaSource is a program that keeps a BPF arena (the __arena variables of sched_ext's
// schedulers, in section .addr_space.1) beside a lock in a map value. cilium/ebpf's reader,
// which the check uses, does not know the arena's section: before the check read it as
// global data, it gave up on such objects ("not analysed") and so saw none of their lock
// rules. Compiled by the test (clang ≥ 18 places __arena variables in .addr_space.1).
const arenaSource = `// SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause)
#include <linux/bpf.h>
#include <bpf/bpf_helpers.h>

struct val { struct bpf_spin_lock lock; int n; };
struct {
	__uint(type, BPF_MAP_TYPE_ARRAY);
	__uint(max_entries, 1);
	__type(key, int);
	__type(value, struct val);
} m SEC(".maps");
struct {
	__uint(type, BPF_MAP_TYPE_ARENA);
	__uint(map_flags, BPF_F_MMAPABLE);
	__uint(max_entries, 1);
} arena SEC(".maps");

int __attribute__((address_space(1))) hits;
int __attribute__((address_space(1))) last;

SEC("syscall") int arena_ok(void *ctx)
{
	int k = 0;
	struct val *v = bpf_map_lookup_elem(&m, &k);
	if (!v)
		return 0;
	bpf_spin_lock(&v->lock);
	v->n++;
	bpf_spin_unlock(&v->lock);
	hits++;
	return 0;
}

SEC("syscall") int arena_no_unlock(void *ctx)
{
	int k = 0;
	struct val *v = bpf_map_lookup_elem(&m, &k);
	if (!v)
		return 0;
	bpf_spin_lock(&v->lock);
	hits++;
	if (v->n > 10)
		return 1; /* exits holding the lock */
	bpf_spin_unlock(&v->lock);
	return 0;
}

SEC("syscall") int arena_call_locked(void *ctx)
{
	int k = 0;
	struct val *v = bpf_map_lookup_elem(&m, &k);
	if (!v)
		return 0;
	bpf_spin_lock(&v->lock);
	last = bpf_get_prandom_u32(); /* a helper call while holding the lock */
	bpf_spin_unlock(&v->lock);
	return 0;
}

char LICENSE[] SEC("license") = "Dual BSD/GPL";
`

// TestArena: on an object with an arena, the check is not blind: each program's verdict
// and rule agree with the running kernel's.
func TestArena(t *testing.T) {
	kernel := requireKernel(t)
	if !kernel.AtLeast(6, 9) {
		t.Skipf("BPF arenas came with 6.9; this kernel is %s", kernel)
	}
	elf := compiled(t, "arena", arenaSource)
	agreeWithKernel(t, kernel, "arena.bpf.o", elf,
		map[string]string{"arena_ok": "", "arena_no_unlock": "I6b", "arena_call_locked": "I1"})
}

// objsEnv names a folder for the objects these tests build with clang-19 (and bpftool):
// make test-kernels builds them here and then runs the same tests in Debian's kernels
// under qemu, where neither tool is. A test takes its object from the folder when it is
// there, and otherwise builds it and leaves a copy there.
const objsEnv = "BPFKIT_KERNELTEST_OBJS"

// requireKernel skips or fails (under BPFKIT_REQUIRE_PRIVILEGED=1) without privileges,
// and returns the running kernel's version.
func requireKernel(t *testing.T) spinlock.Version {
	t.Helper()
	testutil.RequirePrivileged(t)
	kernel, err := spinlock.RunningKernel()
	if err != nil {
		t.Fatal(err)
	}
	return kernel
}

// object returns the bytes of name.bpf.o: from objsEnv's folder when it holds it, and
// otherwise from build, which gets a folder of its own to build in.
func object(t *testing.T, name string, build func(dir string) []byte) []byte {
	t.Helper()
	objs := os.Getenv(objsEnv)
	if objs != "" {
		if elf, err := os.ReadFile(filepath.Join(objs, name+".bpf.o")); err == nil {
			return elf
		}
	}
	elf := build(t.TempDir())
	if objs != "" {
		if err := os.MkdirAll(objs, 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(filepath.Join(objs, name+".bpf.o"), elf, 0o644); err != nil {
			t.Fatal(err)
		}
	}
	return elf
}

// compiled is object for one C source compiled by testutil.CompileBPF.
func compiled(t *testing.T, name, src string) []byte {
	t.Helper()
	return object(t, name, func(dir string) []byte { return testutil.CompileBPF(t, dir, name, src) })
}

// exitRule is the rule of an exit with a lock held: I6b, or I6 in the words kernels
// before 6.13 use.
func exitRule(kernel spinlock.Version) string {
	if kernel.Before(6, 13) {
		return spinlock.RuleI6
	}
	return spinlock.RuleI6b
}

// agreeWithKernel loads each program of want alone and checks the object: the kernel must
// refuse exactly the programs want gives a rule for, in that rule's words, and the check
// must say the same, with no object-wide finding (such as "not analysed").
func agreeWithKernel(t *testing.T, kernel spinlock.Version, name string, elf []byte, want map[string]string) {
	t.Helper()
	for prog, rule := range want {
		if rule == spinlock.RuleI6b {
			rule = exitRule(kernel)
		}
		t.Run(prog, func(t *testing.T) {
			kv, types := loadAlone(t, name, elf, prog, true)
			rep, err := spinlock.Check(elf, &spinlock.Options{Kernel: kernel, ProgramTypes: types, Name: name})
			if err != nil {
				t.Fatal(err)
			}
			rules, all := checkVerdict(t, rep, prog)
			for _, f := range rep.Findings {
				if f.Program == "" {
					t.Errorf("object-wide finding: %s", f.Message)
				}
			}
			for _, f := range all {
				if strings.Contains(f.Message, "not analysed past") {
					t.Errorf("the walk gave up: %s", f.Message)
				}
			}
			if kv.rejects != (rule != "") {
				t.Fatalf("the kernel rejects=%v (%s), the test expects rule %q", kv.rejects, kv.message, rule)
			}
			if said := rulesSaid(kv.log, kernel); rule != "" && !slices.Contains(said, rule) {
				t.Fatalf("the kernel's words %q name %v, not %s", kv.message, said, rule)
			}
			if rule == "" && len(rules) > 0 || rule != "" && !slices.Contains(rules, rule) {
				t.Fatalf("check: rules %v (%s); kernel: %q", rules, describe(all), kv.message)
			}
		})
	}
}
