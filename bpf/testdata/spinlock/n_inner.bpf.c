// SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause)
/* Home N: a lock in the value of an inner map, reached through an ARRAY_OF_MAPS or a
 * HASH_OF_MAPS. Every inner lookup is its own lock to the verifier, as every lookup of an
 * ordinary map is: rules I1, I3, I5, I6b and I9 hold here as they do for a map value. */
#include "slcorpus.h"

char LICENSE[] SEC("license") = "Dual BSD/GPL";

struct inner_locked {
	__uint(type, BPF_MAP_TYPE_ARRAY);
	__uint(max_entries, 1);
	__type(key, __u32);
	__type(value, struct locked_val);
} inner_a SEC(".maps"), inner_b SEC(".maps");

struct inner_hash {
	__uint(type, BPF_MAP_TYPE_HASH);
	__uint(max_entries, 1);
	__type(key, __u32);
	__type(value, struct locked_val);
} inner_h SEC(".maps");

struct inner_plain {
	__uint(type, BPF_MAP_TYPE_ARRAY);
	__uint(max_entries, 1);
	__type(key, __u32);
	__type(value, struct plain_val);
} inner_p SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_ARRAY_OF_MAPS);
	__uint(max_entries, 2);
	__type(key, __u32);
	__array(values, struct inner_locked);
} outer_arr SEC(".maps") = {
	.values = { [0] = &inner_a, [1] = &inner_b },
};

struct {
	__uint(type, BPF_MAP_TYPE_HASH_OF_MAPS);
	__uint(max_entries, 1);
	__type(key, __u32);
	__array(values, struct inner_hash);
} outer_hash SEC(".maps") = {
	.values = { [0] = &inner_h },
};

struct {
	__uint(type, BPF_MAP_TYPE_ARRAY_OF_MAPS);
	__uint(max_entries, 1);
	__type(key, __u32);
	__array(values, struct inner_plain);
} outer_plain SEC(".maps") = {
	.values = { [0] = &inner_p },
};

/* An ordinary map whose value holds a lock, for the pairings of homes. */
SL_ARRAY(locked, struct locked_val);

/* N_GET(var, outer, okey, ikey): var = the value at ikey of the inner map at okey of
 * outer; return 0 when either lookup finds nothing. */
#define N_GET(var, outer, okey, ikey)                                  \
	struct locked_val *var;                                        \
	do {                                                           \
		__u32 _ok = (okey), _ik = (ikey);                      \
		void *_im = bpf_map_lookup_elem(&(outer), &_ok);       \
		if (!_im)                                              \
			return 0;                                      \
		var = bpf_map_lookup_elem(_im, &_ik);                  \
		if (!var)                                              \
			return 0;                                      \
	} while (0)

/* Twin of every rule below: lock and unlock a value of an inner ARRAY. */
SEC("tc")
int inner_array_lock(struct __sk_buff *skb)
{
	N_GET(v, outer_arr, 0, 0);
	bpf_spin_lock(&v->lock);
	v->val++;
	bpf_spin_unlock(&v->lock);
	return 0;
}

/* Twin: the same through a HASH_OF_MAPS whose inner map is a HASH. */
SEC("tc")
int inner_hash_lock(struct __sk_buff *skb)
{
	N_GET(v, outer_hash, 0, 0);
	bpf_spin_lock(&v->lock);
	v->val++;
	bpf_spin_unlock(&v->lock);
	return 0;
}

/* I5: one inner map, looked up twice with the same key: two locks to the verifier. */
SEC("tc")
int inner_unlock_other_inner_lookup(struct __sk_buff *skb)
{
	__u32 k = 0;
	struct locked_val *a, *b;
	void *im = bpf_map_lookup_elem(&outer_arr, &k);

	if (!im)
		return 0;
	a = bpf_map_lookup_elem(im, &k);
	if (!a)
		return 0;
	b = bpf_map_lookup_elem(im, &k);
	if (!b)
		return 0;
	bpf_spin_lock(&a->lock);
	a->val++;
	bpf_spin_unlock(&b->lock);
	return 0;
}

/* I5: the same inner value reached through two lookups of the outer map. */
SEC("tc")
int inner_unlock_other_outer_lookup(struct __sk_buff *skb)
{
	N_GET(a, outer_arr, 0, 0);
	N_GET(b, outer_arr, 0, 0);
	bpf_spin_lock(&a->lock);
	a->val++;
	bpf_spin_unlock(&b->lock);
	return 0;
}

/* I5: lock an inner value, unlock an ordinary map value. */
SEC("tc")
int inner_unlock_map_value(struct __sk_buff *skb)
{
	N_GET(a, outer_arr, 0, 0);
	__u32 k = 0;
	struct locked_val *b = bpf_map_lookup_elem(&locked, &k);

	if (!b)
		return 0;
	bpf_spin_lock(&a->lock);
	a->val++;
	bpf_spin_unlock(&b->lock);
	return 0;
}

/* I5: lock an ordinary map value, unlock an inner value. */
SEC("tc")
int map_value_unlock_inner(struct __sk_buff *skb)
{
	N_GET(a, outer_arr, 0, 0);
	__u32 k = 0;
	struct locked_val *b = bpf_map_lookup_elem(&locked, &k);

	if (!b)
		return 0;
	bpf_spin_lock(&b->lock);
	b->val++;
	bpf_spin_unlock(&a->lock);
	return 0;
}

/* I5: lock the value of a HASH_OF_MAPS' inner map, unlock an ARRAY_OF_MAPS' one. */
SEC("tc")
int inner_hash_unlock_inner_array(struct __sk_buff *skb)
{
	N_GET(a, outer_hash, 0, 0);
	N_GET(b, outer_arr, 1, 0);
	bpf_spin_lock(&a->lock);
	a->val++;
	bpf_spin_unlock(&b->lock);
	return 0;
}

/* I9: read the lock word of an inner value. */
SEC("tc")
int inner_load_lock_word(struct __sk_buff *skb)
{
	N_GET(v, outer_arr, 0, 0);
	return *(volatile __u32 *)&v->lock;
}

/* I9: write the lock word of an inner value. */
SEC("tc")
int inner_store_lock_word(struct __sk_buff *skb)
{
	N_GET(v, outer_arr, 0, 0);
	*(volatile __u32 *)&v->lock = 0;
	return 0;
}

/* I9 twin: read the word beside the lock. */
SEC("tc")
int inner_load_val_word(struct __sk_buff *skb)
{
	N_GET(v, outer_arr, 0, 0);
	return *(volatile __u32 *)&v->val;
}

/* I3: the lock argument points into the inner value, 4 bytes past its lock. */
SEC("tc")
int inner_lock_wrong_offset(struct __sk_buff *skb)
{
	N_GET(v, outer_arr, 0, 0);
	struct bpf_spin_lock *l = (struct bpf_spin_lock *)&v->val;

	bpf_spin_lock(l);
	bpf_spin_unlock(l);
	return 0;
}

/* I3: lock an inner value that holds no lock. */
SEC("tc")
int inner_lock_plain(struct __sk_buff *skb)
{
	__u32 k = 0;
	struct plain_val *p;
	void *im = bpf_map_lookup_elem(&outer_plain, &k);

	if (!im)
		return 0;
	p = bpf_map_lookup_elem(im, &k);
	if (!p)
		return 0;
	bpf_spin_lock((struct bpf_spin_lock *)&p->pad);
	p->val++;
	bpf_spin_unlock((struct bpf_spin_lock *)&p->pad);
	return 0;
}

/* I6b: exit with an inner value's lock held. */
SEC("tc")
int inner_exit_locked(struct __sk_buff *skb)
{
	N_GET(v, outer_arr, 0, 0);
	bpf_spin_lock(&v->lock);
	v->val++;
	return 0;
}

/* I1: a helper call while holding an inner value's lock. */
SEC("tc")
int inner_helper_locked(struct __sk_buff *skb)
{
	N_GET(v, outer_arr, 0, 0);
	bpf_spin_lock(&v->lock);
	v->val = bpf_ktime_get_ns();
	bpf_spin_unlock(&v->lock);
	return 0;
}

/* I1 twin: the helper called before the lock. */
SEC("tc")
int inner_helper_before_lock(struct __sk_buff *skb)
{
	N_GET(v, outer_arr, 0, 0);
	__u32 now = bpf_ktime_get_ns();

	bpf_spin_lock(&v->lock);
	v->val = now;
	bpf_spin_unlock(&v->lock);
	return 0;
}
