// SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause)
/* Rules M1-M7: where a lock may live. Every program is a tc classifier (SCHED_CLS, which
 * may lock), so only the map differs between a bad program and its twin. Two-lock values
 * and misaligned locks are in m_two_locks.bpf.c and m_misaligned.bpf.c: on 6.18 the kernel
 * refuses the whole object's BTF for them, which would break every program here. */
#include "slcorpus.h"

char LICENSE[] SEC("license") = "Dual BSD/GPL";

/* SL_MAP(name, map type, value type, extra flags) */
#define SL_MAP(name, mtype, vtype, flags)        \
	struct {                                 \
		__uint(type, mtype);             \
		__uint(max_entries, 1);          \
		__uint(map_flags, flags);        \
		__type(key, __u32);              \
		__type(value, vtype);            \
	} name SEC(".maps")

/* M1: a map with sizes but no BTF type for its value. */
struct {
	__uint(type, BPF_MAP_TYPE_ARRAY);
	__uint(max_entries, 1);
	__uint(key_size, sizeof(__u32));
	__uint(value_size, sizeof(struct locked_val));
} no_btf SEC(".maps");

SL_MAP(array, BPF_MAP_TYPE_ARRAY, struct locked_val, 0);
SL_MAP(hash, BPF_MAP_TYPE_HASH, struct locked_val, 0);
SL_MAP(percpu_array, BPF_MAP_TYPE_PERCPU_ARRAY, struct locked_val, 0);
SL_MAP(lru_hash, BPF_MAP_TYPE_LRU_HASH, struct locked_val, 0);
SL_MAP(percpu_hash, BPF_MAP_TYPE_PERCPU_HASH, struct locked_val, 0);
SL_MAP(rdonly_prog, BPF_MAP_TYPE_ARRAY, struct locked_val, BPF_F_RDONLY_PROG);

/* M5: an array of locks. */
struct lock_array_val {
	struct bpf_spin_lock lock[2];
	__u32 val;
};
SL_MAP(lock_array, BPF_MAP_TYPE_ARRAY, struct lock_array_val, 0);

/* M4 (to 6.10) / M4b (6.10+): a lock inside a nested struct member. */
struct inner {
	__u32 val;
	struct bpf_spin_lock lock;
};
struct nested_val {
	__u64 head;
	struct inner in;
};
SL_MAP(nested, BPF_MAP_TYPE_ARRAY, struct nested_val, 0);

/* M7: a bpf_timer in a per-CPU array. */
struct timer_val {
	struct bpf_timer t;
	__u64 val;
};
SL_MAP(timer_percpu, BPF_MAP_TYPE_PERCPU_ARRAY, struct timer_val, 0);
SL_MAP(timer_array, BPF_MAP_TYPE_ARRAY, struct timer_val, 0);

/* M1: lock a value the kernel has no BTF for. */
SEC("tc")
int no_btf_lock(void *ctx)
{
	SL_LOCK_BODY(no_btf);
	return 0;
}

/* M1/M2 twin: the same body on an ARRAY with BTF. */
SEC("tc")
int array_lock(void *ctx)
{
	SL_LOCK_BODY(array);
	return 0;
}

/* M2 twin: HASH may hold a lock. */
SEC("tc")
int hash_lock(void *ctx)
{
	SL_LOCK_BODY(hash);
	return 0;
}

/* M2: PERCPU_ARRAY cannot hold a lock; libbpf retries the map without BTF. */
SEC("tc")
int percpu_array_lock(void *ctx)
{
	SL_LOCK_BODY(percpu_array);
	return 0;
}

/* M2: LRU_HASH. */
SEC("tc")
int lru_hash_lock(void *ctx)
{
	SL_LOCK_BODY(lru_hash);
	return 0;
}

/* M2: PERCPU_HASH. */
SEC("tc")
int percpu_hash_lock(void *ctx)
{
	SL_LOCK_BODY(percpu_hash);
	return 0;
}

/* M3: a lock in a map the program may only read (BPF_F_RDONLY_PROG). */
SEC("tc")
int rdonly_prog_lock(void *ctx)
{
	SL_LOCK_BODY(rdonly_prog);
	return 0;
}

/* M5: lock the first element of an array of locks. */
SEC("tc")
int lock_array_lock(void *ctx)
{
	__u32 k = 0;
	struct lock_array_val *v = bpf_map_lookup_elem(&lock_array, &k);

	if (!v)
		return 0;
	bpf_spin_lock(&v->lock[0]);
	v->val++;
	bpf_spin_unlock(&v->lock[0]);
	return 0;
}

/* M4b (6.10+): a lock in a nested struct is found and may be used. */
SEC("tc")
int nested_lock(void *ctx)
{
	__u32 k = 0;
	struct nested_val *v = bpf_map_lookup_elem(&nested, &k);

	if (!v)
		return 0;
	bpf_spin_lock(&v->in.lock);
	v->in.val++;
	bpf_spin_unlock(&v->in.lock);
	return 0;
}

#define CLOCK_MONOTONIC 1

/* M7: bpf_timer_init on a per-CPU array (the map is retried without BTF). */
SEC("tc")
int timer_percpu_init(void *ctx)
{
	__u32 k = 0;
	struct timer_val *v = bpf_map_lookup_elem(&timer_percpu, &k);

	if (!v)
		return 0;
	bpf_timer_init(&v->t, &timer_percpu, CLOCK_MONOTONIC);
	return 0;
}

/* M7 twin: the same on an ARRAY. */
SEC("tc")
int timer_array_init(void *ctx)
{
	__u32 k = 0;
	struct timer_val *v = bpf_map_lookup_elem(&timer_array, &k);

	if (!v)
		return 0;
	bpf_timer_init(&v->t, &timer_array, CLOCK_MONOTONIC);
	return 0;
}
