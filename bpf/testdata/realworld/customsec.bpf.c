// SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause)
/* Programs in sections no libbpf knows, as a load balancer names them (loxilb's
 * xdp_packet_hook, tc_packet_hook0): their loader sets each program's type before load.
 * Loaded as they are, libbpf says "missing BPF prog type". */
#include <linux/bpf.h>
#include <bpf/bpf_helpers.h>

char LICENSE[] SEC("license") = "Dual BSD/GPL";

__u64 xdp_packets, tc_packets;

SEC("xdp_packet_hook")
int xdp_packet_func(struct xdp_md *ctx)
{
	__sync_fetch_and_add(&xdp_packets, 1);
	return XDP_PASS;
}

SEC("tc_packet_hook0")
int tc_packet_func(struct __sk_buff *skb)
{
	__sync_fetch_and_add(&tc_packets, 1);
	return 0; /* TC_ACT_OK */
}
