// SPDX-License-Identifier: Apache-2.0

package kerneltest

import (
	"slices"
	"strings"
	"testing"

	"github.com/bpfkit/bpfkit/spinlock"
)

// loopHead: can_loop, as sched_ext's libraries write it, and a map whose value holds a
// lock.
const loopHead = `// SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause)
#include <linux/bpf.h>
#include <bpf/bpf_helpers.h>

#define can_loop ({ __label__ l_break, l_continue; int ret = 1;          \
	asm volatile goto("may_goto %l[l_break]" :::: l_break);            \
	goto l_continue; l_break: ret = 0; l_continue:; ret; })

struct val { struct bpf_spin_lock lock; __u64 n; };
struct {
	__uint(type, BPF_MAP_TYPE_ARRAY);
	__uint(max_entries, 1);
	__type(key, __u32);
	__type(value, struct val);
} m SEC(".maps");
`

// loopSource has may_goto loops (can_loop, as sched_ext's libraries write their loops)
// whose bound the program reads from memory, one of them while holding a lock. The kernel
// walks each a few times: it widens the counter, on which no decision depends, and prunes
// the next pass. Before the check did the same, it unrolled such loops until its budget
// ran out and said "not analysed past instruction N".
const loopSource = loopHead + `__u64 out;

SEC("tc") int count_loop(struct __sk_buff *skb)
{
	__u32 k = 0;
	struct val *v = bpf_map_lookup_elem(&m, &k);
	__u64 i;

	if (!v)
		return 0;
	for (i = 0; i < v->n && can_loop; i++)
		;
	out = i;
	return 0;
}

SEC("tc") int loop_under_lock(struct __sk_buff *skb)
{
	__u32 k = 0;
	struct val *v = bpf_map_lookup_elem(&m, &k);
	__u64 i, sum = 0;

	if (!v)
		return 0;
	bpf_spin_lock(&v->lock);
	for (i = 0; i < v->n && can_loop; i++)
		sum += 2;
	v->n = sum;
	bpf_spin_unlock(&v->lock);
	return 0;
}

SEC("tc") int loop_then_leak(struct __sk_buff *skb)
{
	__u32 k = 0;
	struct val *v = bpf_map_lookup_elem(&m, &k);
	__u64 i;

	if (!v)
		return 0;
	bpf_spin_lock(&v->lock);
	for (i = 0; i < v->n && can_loop; i++)
		out += i;
	return 0; /* exits holding the lock */
}

char LICENSE[] SEC("license") = "Dual BSD/GPL";
`

// TestMayGotoLoops: may_goto loops are walked to the end, and each verdict agrees with
// the running kernel's (may_goto came with 6.9).
func TestMayGotoLoops(t *testing.T) {
	kernel := requireKernel(t)
	if !kernel.AtLeast(6, 9) {
		t.Skipf("may_goto came with 6.9; this kernel is %s", kernel)
	}
	elf := compiled(t, "loops", loopSource)
	agreeWithKernel(t, kernel, "loops.bpf.o", elf,
		map[string]string{"count_loop": "", "loop_under_lock": "", "loop_then_leak": "I6b"})
}

// heapSource is sched_ext's minheap in miniature: a global function that sifts an arena
// heap down in two nested may_goto loops whose counters decide branches (the child index
// is compared with the heap's size). The verifier walks it in ~2,000 instructions,
// because it widens what no explored path has needed precise yet; the check tracks
// precision per instruction, not per path, and walking the function unrolled the loops
// until it gave up ("not analysed past instruction N"), in every program that calls it.
// The function takes no lock and reaches no value that holds one, so the check has
// nothing to find in it, and does not walk it; the programs around it are still walked.
const heapSource = heapHead + bumpAndLeak + `
SEC("syscall") int heap_ok(void *ctx)
{
	__u32 k = 0;
	struct val *v = bpf_map_lookup_elem(&m, &k);

	if (v) {
		bpf_spin_lock(&v->lock);
		v->n++;
		bpf_spin_unlock(&v->lock);
	}
	sift_down(&heap);
	return 0;
}

/* Counts under the lock, then sifts: after the unlock nothing is left for the check to
 * find (no lock held, none taken, no pointer to the value kept), and the walk of the
 * path ends there. */
__attribute__((noinline)) int count_then_sift(void __arena *p __arg_arena)
{
	__u32 k = 0;
	struct val *v = bpf_map_lookup_elem(&m, &k);

	if (v) {
		bpf_spin_lock(&v->lock);
		v->n++;
		bpf_spin_unlock(&v->lock);
	}
	sift(p);
	return 0;
}

SEC("syscall") int heap_count_then_sift(void *ctx)
{
	return count_then_sift(&heap);
}

SEC("syscall") int heap_then_leak(void *ctx)
{
	__u32 k = 0;
	struct val *v;

	sift_down(&heap);
	v = bpf_map_lookup_elem(&m, &k);
	if (!v)
		return 0;
	bpf_spin_lock(&v->lock);
	if (heap.size > 3)
		return 1; /* exits holding the lock */
	bpf_spin_unlock(&v->lock);
	return 0;
}

SEC("syscall") int heap_and_leaky_global(void *ctx)
{
	sift_down(&heap);
	return bump_and_leak(heap.size);
}

char LICENSE[] SEC("license") = "Dual BSD/GPL";
`

// unfinishedSource has, beside the heap, a global function the check walks (it takes a
// lock) and cannot finish, between two global functions that return holding a lock.
const unfinishedSource = heapHead + `
/* Leaks the lock as bump_and_leak below does; defined before count_and_sift. */
LEAKY(leak_early, 5)

/* Sifts under the lock: a global function the check walks (it holds a lock through the
 * loops) and cannot finish. */
__attribute__((noinline)) int count_and_sift(void __arena *p __arg_arena)
{
	__u32 k = 0;
	struct val *v = bpf_map_lookup_elem(&m, &k);

	if (!v)
		return 0;
	bpf_spin_lock(&v->lock);
	sift(p);
	v->n++;
	bpf_spin_unlock(&v->lock);
	return 0;
}

` + bumpAndLeak + `
/* Two leaky global functions, one defined before count_and_sift and one after: whatever
 * order the linker gives the three, one leaky function comes after the unfinished one. */
SEC("syscall") int unfinished_among_leaky(void *ctx)
{
	int ret = leak_early(heap.size);

	count_and_sift(&heap);
	return ret + bump_and_leak(heap.size);
}

char LICENSE[] SEC("license") = "Dual BSD/GPL";
`

// bumpAndLeak: a global function that takes the lock (it is walked) and may return
// holding it (LEAKY, in heapHead).
const bumpAndLeak = `
LEAKY(bump_and_leak, 10)
`

// heapHead: the maps, the arena heap, and sift_down, the global function that sifts it.
const heapHead = loopHead + `#define __arena __attribute__((address_space(1)))

struct {
	__uint(type, BPF_MAP_TYPE_ARENA);
	__uint(map_flags, BPF_F_MMAPABLE);
	__uint(max_entries, 4);
} arena SEC(".maps");

struct elem { __u64 key, weight; };
struct heap { struct elem __arena *elems; __u64 size; };
struct heap __arena heap;

/* A global function that takes the lock (the check walks it) and returns holding it
 * when n passes limit. */
#define LEAKY(name, limit)						\
__attribute__((noinline)) int name(__u64 n)				\
{									\
	__u32 k = 0;							\
	struct val *v = bpf_map_lookup_elem(&m, &k);			\
									\
	if (!v)								\
		return 0;						\
	bpf_spin_lock(&v->lock);					\
	v->n += n;							\
	if (n > limit)							\
		return 1; /* returns holding the lock */		\
	bpf_spin_unlock(&v->lock);					\
	return 0;							\
}

static __always_inline void sift(struct heap __arena *h)
{
	int child, next, off, i;

	for (i = 0; i < h->size && can_loop; i = next) {
		next = i;
		for (off = 1; off < 3 && can_loop; off++) {
			child = 2 * i + off;
			if (child >= h->size)
				continue;
			if (h->elems[next].weight <= h->elems[child].weight)
				continue;
			next = child;
		}
		if (next == i)
			break;
		__u64 w = h->elems[next].weight;
		h->elems[next].weight = h->elems[i].weight;
		h->elems[i].weight = w;
	}
}

__attribute__((noinline)) int sift_down(void __arena *p __arg_arena)
{
	sift(p);
	return 0;
}

`

// TestLockFreeGlobalFunction: a program that calls a global function which computes over
// arena memory in nested may_goto loops (sched_ext's minheap) is checked to the end, a lock
// held at its own exit is still found, and so is one held at the exit of another global
// function of the same program. Each verdict agrees with the running kernel's.
func TestLockFreeGlobalFunction(t *testing.T) {
	kernel := requireKernel(t)
	if !kernel.AtLeast(6, 9) {
		t.Skipf("BPF arenas and may_goto came with 6.9; this kernel is %s", kernel)
	}
	elf := compiled(t, "heap", heapSource)
	agreeWithKernel(t, kernel, "heap.bpf.o", elf,
		map[string]string{"heap_ok": "", "heap_count_then_sift": "", "heap_then_leak": "I6b", "heap_and_leaky_global": "I6b"})
}

// TestUnfinishedRoot: a global function the check walks and cannot finish is reported as
// not analysed, by name, and the walk goes on to the program's other global functions: a
// lock held at the exit of one that comes after it is still found. Before, the first root
// that stopped ended the walk of the whole program, and such a leak went unreported.
func TestUnfinishedRoot(t *testing.T) {
	kernel := requireKernel(t)
	if !kernel.AtLeast(6, 9) {
		t.Skipf("BPF arenas and may_goto came with 6.9; this kernel is %s", kernel)
	}
	const prog = "unfinished_among_leaky"
	elf := compiled(t, "unfinished", unfinishedSource)
	kv, types := loadAlone(t, "unfinished.bpf.o", elf, prog, true)
	exit := exitRule(kernel)
	if !kv.rejects || !slices.Contains(rulesSaid(kv.log, kernel), exit) {
		t.Fatalf("the kernel: rejects=%v %q, want a refusal for a lock a global function keeps", kv.rejects, kv.message)
	}
	rep, err := spinlock.Check(elf, &spinlock.Options{Kernel: kernel, ProgramTypes: types, Name: "unfinished.bpf.o"})
	if err != nil {
		t.Fatal(err)
	}
	var gaveUp *spinlock.Finding
	leaks := map[string]spinlock.Finding{}
	for _, f := range rep.Findings {
		switch {
		case f.Program != prog:
		case f.Rule == "" && strings.Contains(f.Message, "global function count_and_sift was not analysed past"):
			gaveUp = &f
		case f.Rule == exit && f.Severity == spinlock.SeverityError:
			for _, fn := range []string{"leak_early", "bump_and_leak"} {
				if strings.Contains(f.Message, "global function "+fn+",") {
					leaks[fn] = f
				}
			}
		}
	}
	if gaveUp == nil || len(leaks) != 2 {
		t.Fatalf("findings for %s: %s; want a warning that count_and_sift was not analysed and an %s error for each of leak_early and bump_and_leak", prog, exit, describe(rep.Findings))
	}
	after := false
	for fn, f := range leaks {
		if f.Line == 0 {
			t.Errorf("the finding for %s does not say where: %+v", fn, f)
		}
		after = after || f.Insn > gaveUp.Insn
	}
	if !after {
		t.Fatalf("no leaky function comes after count_and_sift (at %d): %v; the test does not show that the walk goes on", gaveUp.Insn, leaks)
	}
	t.Logf("%s\n%s\n%s", gaveUp.Message, leaks["leak_early"].Message, leaks["bump_and_leak"].Message)
}
