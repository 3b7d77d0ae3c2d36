// SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause)
/* An XDP program in a section of the loader's own naming that takes a bpf_spin_lock:
 * until the loader gives it a type (Program.SetType), the spin-lock check cannot apply
 * the program-type rules to it, and says so (Report.Notes), for loader's strict-check
 * tests. */
#include <linux/bpf.h>
#include <bpf/bpf_helpers.h>

char LICENSE[] SEC("license") = "Dual BSD/GPL";

struct val {
	struct bpf_spin_lock lock;
	__u64 packets;
};

struct {
	__uint(type, BPF_MAP_TYPE_HASH);
	__uint(max_entries, 1);
	__type(key, __u32);
	__type(value, struct val);
} vals SEC(".maps");

SEC("xdp_packet_hook")
int lock_hook(struct xdp_md *ctx)
{
	__u32 k = 0;
	struct val *v = bpf_map_lookup_elem(&vals, &k);

	if (!v)
		return XDP_PASS;
	bpf_spin_lock(&v->lock);
	v->packets++;
	bpf_spin_unlock(&v->lock);
	return XDP_PASS;
}
