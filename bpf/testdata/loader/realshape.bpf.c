// SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause)
/* The shapes of real-world objects (bcc's libbpf-tools, loxilb, sched_ext) that a loader
 * must finish before Load, for loader's setter tests:
 *   - a stack-trace map with no value size or capacity: the tool sets both at run time;
 *   - programs in sections of the loader's own naming, which libbpf cannot type;
 *   - a tp_btf program without a target (set with SetAttachTarget);
 *   - a map of maps declared without __array(values, …) (its inner map set at run time);
 *   - a data section libbpf skips.
 * Nothing loads until the loader has set them all. */
#include <linux/bpf.h>
#include <bpf/bpf_helpers.h>

char LICENSE[] SEC("license") = "Dual BSD/GPL";

struct {
	__uint(type, BPF_MAP_TYPE_STACK_TRACE);
	__uint(key_size, sizeof(__u32));
} stacks SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_HASH_OF_MAPS);
	__uint(max_entries, 4);
	__type(key, __u32);
	__type(value, __u32);
} outer SEC(".maps");

/* a raw map (no BTF types) whose key and value sizes and type the loader changes */
struct {
	__uint(type, BPF_MAP_TYPE_HASH);
	__uint(max_entries, 16);
	__uint(key_size, 4);
	__uint(value_size, 8);
} resized SEC(".maps");

__u32 target_pid = 0;
__s64 last_stack = -1;
__u64 hits_btf = 0;
__u64 hits_cg = 0;

/* a section that is neither code nor data libbpf knows: it skips it */
const char notes[] __attribute__((section(".bpfkit.notes"), used)) = "realshape";

static __always_inline int mine(void)
{
	return (bpf_get_current_pid_tgid() >> 32) == target_pid;
}

SEC("tp/syscalls/sys_enter_getpid")
int stack_tp(void *ctx)
{
	if (!mine())
		return 0;
	last_stack = bpf_get_stackid(ctx, &stacks, 0);
	return 0;
}

/* loxilb's style: the tc program's section names no type */
SEC("tc_packet_hook0")
int hook_tc(struct __sk_buff *skb)
{
	return skb->len == 64 ? 2 /* TC_ACT_SHOT */ : 0;
}

SEC("cgroup_hook_egress")
int hook_cg(struct __sk_buff *skb)
{
	__sync_fetch_and_add(&hits_cg, 1);
	return 1;
}

SEC("tp_btf")
int btf_tp(__u64 *ctx)
{
	if (mine())
		__sync_fetch_and_add(&hits_btf, 1);
	return 0;
}

SEC("xdp")
int use_outer(struct xdp_md *ctx)
{
	__u32 k = 0;
	void *inner = bpf_map_lookup_elem(&outer, &k);
	__u64 *v;

	if (!inner)
		return XDP_PASS;
	v = bpf_map_lookup_elem(inner, &k);
	return v && *v == 7 ? XDP_DROP : XDP_PASS;
}

/* bcc's style: a probe on a function that this kernel may lack, off by default ('?') */
SEC("?fentry/bpfkit_no_such_function")
int maybe_fentry(void *ctx)
{
	return 0;
}
