// SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause)
//go:build ignore

/* Maps and programs for package maps' tests: one map of each kind the accessors cover,
 * values whose BTF the layout check reads, and XDP programs run with BPF_PROG_TEST_RUN. */
#include <linux/bpf.h>
#include <bpf/bpf_helpers.h>

char LICENSE[] SEC("license") = "Dual BSD/GPL";

struct plain {
	__u64 a;
	__u32 b;
	__u32 c;
};

struct inner {
	__u32 x;
	__u32 y;
};

struct flow {
	__u32 addr;
	__u16 port;
	__u16 proto;
};

struct nested {
	struct inner in;
	__u64 arr[3];
	char name[8];
	__u16 tail;
};

/* a and b are far apart, so a lookup copying the value without the lock can see a
 * BPF program's update of a but not yet of b */
struct locked {
	struct bpf_spin_lock lock;
	__u32 id;
	__u64 a;
	__u64 gap[62];
	__u64 b;
};

struct small_lock {
	__u32 x;
	struct bpf_spin_lock lock;
	__u64 y;
};

struct odd {
	__u32 x;
	__u16 y;
};

struct lpm_key {
	__u32 prefixlen;
	__u8 addr[4];
};

struct {
	__uint(type, BPF_MAP_TYPE_HASH);
	__uint(max_entries, 1024);
	__type(key, __u32);
	__type(value, struct plain);
} h_plain SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_HASH);
	__uint(max_entries, 128);
	__type(key, struct flow);
	__type(value, struct nested);
} h_nested SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_HASH);
	__uint(max_entries, 16);
	__type(key, __u32);
	__type(value, struct locked);
} h_lock SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_ARRAY);
	__uint(max_entries, 4);
	__type(key, __u32);
	__type(value, struct small_lock);
} a_lock SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_ARRAY);
	__uint(max_entries, 8);
	__type(key, __u32);
	__type(value, __u64);
} a_plain SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_LRU_HASH);
	__uint(max_entries, 64);
	__type(key, __u32);
	__type(value, __u64);
} lru SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_PERCPU_HASH);
	__uint(max_entries, 64);
	__type(key, __u32);
	__type(value, struct odd);
} pc_hash SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_PERCPU_ARRAY);
	__uint(max_entries, 4);
	__type(key, __u32);
	__type(value, __u64);
} pc_array SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_LRU_PERCPU_HASH);
	__uint(max_entries, 64);
	__type(key, __u32);
	__type(value, __u32);
} lru_pc SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_QUEUE);
	__uint(max_entries, 4);
	__type(value, __u64);
} queue SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_STACK);
	__uint(max_entries, 4);
	__type(value, __u64);
} stack SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_LPM_TRIE);
	__uint(max_entries, 16);
	__uint(map_flags, BPF_F_NO_PREALLOC);
	__type(key, struct lpm_key);
	__type(value, __u32);
} lpm SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_BLOOM_FILTER);
	__uint(max_entries, 128);
	__uint(map_extra, 3);
	__type(value, __u32);
} bloom SEC(".maps");

struct inner_map {
	__uint(type, BPF_MAP_TYPE_ARRAY);
	__uint(max_entries, 2);
	__type(key, __u32);
	__type(value, __u64);
} inner_a SEC(".maps"), inner_b SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_HASH_OF_MAPS);
	__uint(max_entries, 4);
	__type(key, __u32);
	__array(values, struct inner_map);
} hom SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_ARRAY_OF_MAPS);
	__uint(max_entries, 4);
	__type(key, __u32);
	__array(values, struct inner_map);
} aom SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_RINGBUF);
	__uint(max_entries, 1 << 20);
} rb SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_PERF_EVENT_ARRAY);
	__uint(key_size, sizeof(__u32));
	__uint(value_size, sizeof(__u32));
} perf SEC(".maps");

/* global data: .bss and .data are array maps whose value is the section's DATASEC */
__u64 runs = 0;
__u32 events_per_run = 16;
__u32 flags_seen = 0;
/* lock_inc's runs, counted apart from the lock: a test run interrupted by a signal
 * (EINTR) has done an unknown number of its repetitions */
__u64 lock_runs SEC(".bss.runs") = 0;

struct event {
	__u64 seq;
	__u64 run;
	__u8 pad[48];
};

/* under the lock, add 1 to a and to b of h_lock[0] */
SEC("xdp")
int lock_inc(struct xdp_md *ctx)
{
	__u32 key = 0;
	struct locked *v = bpf_map_lookup_elem(&h_lock, &key);

	if (!v)
		return XDP_ABORTED;
	__sync_fetch_and_add(&lock_runs, 1);
	bpf_spin_lock(&v->lock);
	v->a++;
	v->b++;
	bpf_spin_unlock(&v->lock);
	return XDP_PASS;
}

/* emit events_per_run 64-byte events to the ring buffer */
SEC("xdp")
int rb_fill(struct xdp_md *ctx)
{
	struct event ev = {};
	__u32 n = events_per_run;

	ev.run = __sync_fetch_and_add(&runs, 1);
	for (__u32 i = 0; i < 4096; i++) {
		if (i >= n)
			break;
		ev.seq = i;
		bpf_ringbuf_output(&rb, &ev, sizeof(ev), 0);
	}
	return XDP_PASS;
}

/* emit events_per_run 64-byte events to the perf buffer of this CPU */
SEC("xdp")
int perf_fill(struct xdp_md *ctx)
{
	struct event ev = {};
	__u32 n = events_per_run;

	ev.run = __sync_fetch_and_add(&runs, 1);
	for (__u32 i = 0; i < 4096; i++) {
		if (i >= n)
			break;
		ev.seq = i;
		bpf_perf_event_output(ctx, &perf, BPF_F_CURRENT_CPU, &ev, sizeof(ev));
	}
	return XDP_PASS;
}

/* add 1 to pc_array[0] on the CPU that runs it, and read the inner map of hom[1] */
SEC("xdp")
int touch(struct xdp_md *ctx)
{
	__u32 key = 0, one = 1;
	__u64 *c = bpf_map_lookup_elem(&pc_array, &key);
	void *in;

	if (c)
		(*c)++;
	in = bpf_map_lookup_elem(&hom, &one);
	if (in) {
		__u64 *v = bpf_map_lookup_elem(in, &key);
		if (v)
			flags_seen = (__u32)*v;
	}
	return XDP_PASS;
}
