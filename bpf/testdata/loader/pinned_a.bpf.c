// SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause)
/* One build of an object that shares a map with other builds through
 * LIBBPF_PIN_BY_NAME (pinned_b.bpf.c is another, whose BTF numbers the types
 * differently), for loader's pinned-map tests. */
#include <linux/bpf.h>
#include <bpf/bpf_helpers.h>

char LICENSE[] SEC("license") = "Dual BSD/GPL";

struct counter {
	__u64 packets;
	__u32 flags;
	__u32 last_len;
};

struct {
	__uint(type, BPF_MAP_TYPE_HASH);
	__uint(max_entries, 16);
	__type(key, __u32);
	__type(value, struct counter);
	__uint(pinning, LIBBPF_PIN_BY_NAME);
} shared_counts SEC(".maps");

SEC("syscall")
int bump(void *ctx)
{
	__u32 k = 1;
	struct counter *c = bpf_map_lookup_elem(&shared_counts, &k);

	if (c) {
		__sync_fetch_and_add(&c->packets, 1);
	} else {
		struct counter n = { .packets = 1, .flags = 0xa };

		bpf_map_update_elem(&shared_counts, &k, &n, BPF_NOEXIST);
	}
	return 0;
}
