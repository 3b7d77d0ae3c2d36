// SPDX-License-Identifier: Apache-2.0

package kerneltest

import "testing"

// loopSource has may_goto loops (can_loop, as sched_ext's libraries write their loops)
// whose bound the program reads from memory, one of them while holding a lock. The kernel
// walks each a few times: it widens the counter, on which no decision depends, and prunes
// the next pass. Before the check did the same, it unrolled such loops until its budget
// ran out and said "not analysed past instruction N".
const loopSource = `// SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause)
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
__u64 out;

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
	kernel := requireClangKernel(t)
	if !kernel.AtLeast(6, 9) {
		t.Skipf("may_goto came with 6.9; this kernel is %s", kernel)
	}
	elf := compileBPF(t, t.TempDir(), "loops", loopSource)
	agreeWithKernel(t, kernel, "loops.bpf.o", elf,
		map[string]string{"count_loop": "", "loop_under_lock": "", "loop_then_leak": "I6b"})
}
