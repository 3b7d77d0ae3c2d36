// SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause)
/* One program per attach kind the loader supports, each counting its runs in
 * hits[] (.bss), for loader's attach tests. */
#include <linux/bpf.h>
#include <bpf/bpf_helpers.h>

char LICENSE[] SEC("license") = "Dual BSD/GPL";

__u64 hits[9] = {};
__u32 target_pid = 0;

static __always_inline int mine(void)
{
	return (bpf_get_current_pid_tgid() >> 32) == target_pid;
}

SEC("tp/syscalls/sys_enter_getppid")
int on_tp(void *ctx)
{
	if (mine())
		__sync_fetch_and_add(&hits[0], 1);
	return 0;
}

SEC("raw_tp/sys_enter")
int on_raw_tp(void *ctx)
{
	if (mine())
		__sync_fetch_and_add(&hits[1], 1);
	return 0;
}

SEC("tp_btf/sys_enter")
int on_tp_btf(void *ctx)
{
	if (mine())
		__sync_fetch_and_add(&hits[2], 1);
	return 0;
}

SEC("xdp")
int on_xdp(struct xdp_md *ctx)
{
	__sync_fetch_and_add(&hits[3], 1);
	return XDP_PASS;
}

SEC("tc")
int on_tc(struct __sk_buff *skb)
{
	__sync_fetch_and_add(&hits[4], 1);
	return 0; /* TC_ACT_OK */
}

SEC("cgroup_skb/egress")
int on_cgroup_egress(struct __sk_buff *skb)
{
	__sync_fetch_and_add(&hits[5], 1);
	return 1; /* let it through */
}

SEC("?tp/syscalls/sys_enter_getppid")
int off_by_default(void *ctx)
{
	__sync_fetch_and_add(&hits[6], 1);
	return 0;
}

SEC("uprobe")
int on_uprobe(void *ctx)
{
	if (mine())
		__sync_fetch_and_add(&hits[7], 1);
	return 0;
}

SEC("perf_event")
int on_perf_event(void *ctx)
{
	__sync_fetch_and_add(&hits[8], 1);
	return 0;
}
