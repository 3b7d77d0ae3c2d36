// SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause)
//go:build ignore

/* Package maps' torn-data tests (maps/torn_test.go): values that hold a bpf_spin_lock and
 * two counters far apart, and tc programs that, under the lock, check that the two are
 * equal and add 1 to both, many times per run. Every writer keeps a == b under the lock,
 * so a != b means that some copy of the value (user space's, without BPF_F_LOCK) ran
 * while a program held the lock: a torn read or a torn write. */
#include <linux/bpf.h>
#include <bpf/bpf_helpers.h>

char LICENSE[] SEC("license") = "Dual BSD/GPL";

/* a and b are 504 bytes apart: a copy of the value takes long enough for a program to
 * change both between the copy of a and the copy of b */
struct torn {
	struct bpf_spin_lock lock;
	__u32 id;
	__u64 a;
	__u64 gap[62];
	__u64 b;
};

/* an array updates its value in place (a hash map replaces the element on an update
 * without BPF_F_LOCK): the writes are tested here */
struct {
	__uint(type, BPF_MAP_TYPE_ARRAY);
	__uint(max_entries, 2);
	__type(key, __u32);
	__type(value, struct torn);
} a_torn SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_HASH);
	__uint(max_entries, 4);
	__type(key, __u32);
	__type(value, struct torn);
} h_torn SEC(".maps");

/* a value of struct torn's size, all zero: what torn_hash inserts (the stack is too
 * small for one) */
struct {
	__uint(type, BPF_MAP_TYPE_ARRAY);
	__uint(max_entries, 1);
	__type(key, __u32);
	__type(value, __u64[65]);
} zero SEC(".maps");

/* critical sections run, and those that found a != b on entry */
__u64 sections = 0;
__u64 torn_seen = 0;

#define SECTIONS_PER_RUN 64

static __always_inline int hammer(void *map, int insert)
{
	__u32 key = 0;
	struct torn *v = bpf_map_lookup_elem(map, &key);

	if (!v && insert) {
		void *z = bpf_map_lookup_elem(&zero, &key);

		if (z)
			bpf_map_update_elem(map, &key, z, BPF_NOEXIST);
		v = bpf_map_lookup_elem(map, &key);
	}
	if (!v)
		return 2; /* TC_ACT_SHOT */
	for (int i = 0; i < SECTIONS_PER_RUN; i++) {
		__u64 bad;

		bpf_spin_lock(&v->lock);
		bad = v->a != v->b;
		v->a++;
		/* a's new value is in memory, b's not yet: filling the gap between them keeps
		 * the value inconsistent long enough for an unlocked copy to be caught */
		for (int j = 0; j < 62; j++)
			v->gap[j] = v->a;
		v->b++;
		bpf_spin_unlock(&v->lock);
		if (bad)
			__sync_fetch_and_add(&torn_seen, 1);
	}
	__sync_fetch_and_add(&sections, SECTIONS_PER_RUN);
	return 0; /* TC_ACT_OK */
}

/* SECTIONS_PER_RUN critical sections on a_torn[0]. A tc program, not XDP: the kernel
 * runs a repeated XDP test run only after an RCU grace period (~45 ms here). */
SEC("tc")
int torn_array(struct __sk_buff *ctx)
{
	return hammer(&a_torn, 0);
}

/* SECTIONS_PER_RUN critical sections on h_torn[0], inserted (zero) when it is absent.
 * The program inserts it, not user space: a hash map reuses a deleted element's memory
 * at once, and an insert copies the value without the lock, so user space inserting
 * while the program still works on the element it deleted would tear it. */
SEC("tc")
int torn_hash(struct __sk_buff *ctx)
{
	return hammer(&h_torn, 1);
}
