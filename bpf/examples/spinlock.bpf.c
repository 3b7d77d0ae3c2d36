// SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause)
//go:build ignore

/* examples/spinlock: an XDP program counting packets and bytes per IP protocol in a hash
 * map whose values hold a bpf_spin_lock, so that user space can read packets and bytes
 * as one consistent pair (BPF_F_LOCK). Only IPv4 TCP/UDP packets to the port user space
 * sets in `port` before load are counted (0: every IPv4 packet). */
#include <linux/bpf.h>
#include <linux/if_ether.h>
#include <linux/ip.h>
#include <linux/in.h>
#include <linux/udp.h>
#include <bpf/bpf_helpers.h>
#include <bpf/bpf_endian.h>

char LICENSE[] SEC("license") = "Dual BSD/GPL";

struct counter {
	struct bpf_spin_lock lock;
	__u32 pad;
	__u64 packets;
	__u64 bytes;
};

struct {
	__uint(type, BPF_MAP_TYPE_HASH);
	__uint(max_entries, 256);
	__type(key, __u32); /* IP protocol number */
	__type(value, struct counter);
} counters SEC(".maps");

const volatile __u16 port = 0; /* destination port to count, host byte order */

SEC("xdp")
int count_packets(struct xdp_md *ctx)
{
	void *data = (void *)(long)ctx->data;
	void *data_end = (void *)(long)ctx->data_end;
	struct ethhdr *eth = data;
	struct iphdr *ip;
	struct counter *c, zero = {};
	__u32 key;

	if ((void *)(eth + 1) > data_end || eth->h_proto != bpf_htons(ETH_P_IP))
		return XDP_PASS;
	ip = (void *)(eth + 1);
	if ((void *)(ip + 1) > data_end || ip->ihl < 5)
		return XDP_PASS;
	if (port) {
		/* TCP and UDP both start with source and destination ports */
		struct udphdr *l4 = (void *)ip + ip->ihl * 4;

		if (ip->protocol != IPPROTO_UDP && ip->protocol != IPPROTO_TCP)
			return XDP_PASS;
		if ((void *)(l4 + 1) > data_end || l4->dest != bpf_htons(port))
			return XDP_PASS;
	}
	key = ip->protocol;
	c = bpf_map_lookup_elem(&counters, &key);
	if (!c) {
		bpf_map_update_elem(&counters, &key, &zero, BPF_NOEXIST);
		c = bpf_map_lookup_elem(&counters, &key);
		if (!c)
			return XDP_PASS;
	}
	bpf_spin_lock(&c->lock);
	c->packets++;
	c->bytes += data_end - data;
	bpf_spin_unlock(&c->lock);
	return XDP_PASS;
}
