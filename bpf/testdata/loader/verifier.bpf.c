// SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause)
/* One program the verifier accepts and one it must reject: the second dereferences a
 * hash-map value without checking it for NULL. (A hash map: since 6.x the verifier
 * knows that an array lookup with a constant in-bounds key cannot return NULL.) */
#include <linux/bpf.h>
#include <bpf/bpf_helpers.h>

char LICENSE[] SEC("license") = "Dual BSD/GPL";

struct {
	__uint(type, BPF_MAP_TYPE_HASH);
	__uint(max_entries, 1);
	__type(key, __u32);
	__type(value, __u64);
} vals SEC(".maps");

SEC("xdp")
int accepted(struct xdp_md *ctx)
{
	return XDP_PASS;
}

SEC("xdp")
int null_deref(struct xdp_md *ctx)
{
	__u32 key = 0;
	__u64 *v = bpf_map_lookup_elem(&vals, &key);

	return *v ? XDP_PASS : XDP_DROP; /* no NULL check: rejected */
}
