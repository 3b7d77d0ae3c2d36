// SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause)
/* A later build of pinned_a.bpf.c: more types and maps come first, so its BTF gives
 * struct counter another type ID, but shared_counts is the same map, reused through
 * LIBBPF_PIN_BY_NAME. */
#include <linux/bpf.h>
#include <bpf/bpf_helpers.h>

char LICENSE[] SEC("license") = "Dual BSD/GPL";

struct config {
	__u8 mode;
	__u8 pad[3];
	__u32 limit;
};

struct event {
	__u64 ts;
	__u32 pid;
	char comm[12];
};

struct {
	__uint(type, BPF_MAP_TYPE_ARRAY);
	__uint(max_entries, 1);
	__type(key, __u32);
	__type(value, struct config);
} settings SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_HASH);
	__uint(max_entries, 8);
	__type(key, __u64);
	__type(value, struct event);
} events SEC(".maps");

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
int note_b(void *ctx)
{
	__u64 k = 0;
	struct event e = { .pid = 1 };

	bpf_map_update_elem(&events, &k, &e, BPF_ANY);
	return 0;
}

SEC("syscall")
int bump_b(void *ctx)
{
	__u32 k = 1, zero = 0;
	struct config *cfg = bpf_map_lookup_elem(&settings, &zero);
	struct counter *c = bpf_map_lookup_elem(&shared_counts, &k);

	if (c) {
		__sync_fetch_and_add(&c->packets, cfg && cfg->mode ? cfg->mode : 1);
		c->last_len = 0xb;
	}
	return 0;
}
