// SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause)
/* Home A: a lock in an object from bpf_obj_new (6.2+). Each object is its own lock; the
 * rules I1, I3, I5, I6b and I9 hold as for a map value, I9 and I3 with their own words.
 * Every twin drops its object after the unlock (an object never dropped is a reference
 * leak, not a lock rule). */
#include "slkinds.h"

char LICENSE[] SEC("license") = "Dual BSD/GPL";

SL_ARRAY(locked, struct locked_val);

struct inner_locked {
	__uint(type, BPF_MAP_TYPE_ARRAY);
	__uint(max_entries, 1);
	__type(key, __u32);
	__type(value, struct locked_val);
} inner SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_ARRAY_OF_MAPS);
	__uint(max_entries, 1);
	__type(key, __u32);
	__array(values, struct inner_locked);
} outer SEC(".maps") = {
	.values = { [0] = &inner },
};

/* A global lock, alone in its section. */
private(A) struct bpf_spin_lock glock;

/* A_NEW(var): var = a new struct locked_val, return 0 when the allocation fails. */
#define A_NEW(var)                                             \
	struct locked_val *var = bpf_obj_new(struct locked_val); \
	if (!var)                                              \
		return 0

/* A_VALUE(var): var = element 0 of the map `locked`; drops obj and returns 0 when absent. */
#define A_VALUE(var, obj)                                      \
	__u32 var##_k = 0;                                     \
	struct locked_val *var = bpf_map_lookup_elem(&locked, &var##_k); \
	if (!var) {                                            \
		bpf_obj_drop(obj);                             \
		return 0;                                      \
	}

/* Twin of every rule below: lock an object, update it, unlock, drop it. */
SEC("tc")
int obj_lock(struct __sk_buff *skb)
{
	A_NEW(o);
	bpf_spin_lock(&o->lock);
	o->val++;
	bpf_spin_unlock(&o->lock);
	bpf_obj_drop(o);
	return 0;
}

/* I5: lock one object, unlock another. */
SEC("tc")
int obj_unlock_other_obj(struct __sk_buff *skb)
{
	A_NEW(a);
	struct locked_val *b = bpf_obj_new(struct locked_val);

	if (!b) {
		bpf_obj_drop(a);
		return 0;
	}
	bpf_spin_lock(&a->lock);
	a->val++;
	bpf_spin_unlock(&b->lock);
	bpf_obj_drop(a);
	bpf_obj_drop(b);
	return 0;
}

/* I5: lock an object, unlock a map value. */
SEC("tc")
int obj_unlock_map_value(struct __sk_buff *skb)
{
	A_NEW(o);
	A_VALUE(v, o);
	bpf_spin_lock(&o->lock);
	o->val++;
	bpf_spin_unlock(&v->lock);
	bpf_obj_drop(o);
	return 0;
}

/* I5: lock a map value, unlock an object. */
SEC("tc")
int map_value_unlock_obj(struct __sk_buff *skb)
{
	A_NEW(o);
	A_VALUE(v, o);
	bpf_spin_lock(&v->lock);
	v->val++;
	bpf_spin_unlock(&o->lock);
	bpf_obj_drop(o);
	return 0;
}

/* I5: lock a global, unlock an object. */
SEC("tc")
int global_unlock_obj(struct __sk_buff *skb)
{
	A_NEW(o);
	bpf_spin_lock(&glock);
	o->val++;
	bpf_spin_unlock(&o->lock);
	bpf_obj_drop(o);
	return 0;
}

/* I5: lock an object, unlock a global. */
SEC("tc")
int obj_unlock_global(struct __sk_buff *skb)
{
	A_NEW(o);
	bpf_spin_lock(&o->lock);
	o->val++;
	bpf_spin_unlock(&glock);
	bpf_obj_drop(o);
	return 0;
}

/* I5: lock an object, unlock an inner map's value. */
SEC("tc")
int obj_unlock_inner_value(struct __sk_buff *skb)
{
	__u32 k = 0;
	struct locked_val *iv;
	void *im = bpf_map_lookup_elem(&outer, &k);

	if (!im)
		return 0;
	iv = bpf_map_lookup_elem(im, &k);
	if (!iv)
		return 0;
	A_NEW(o);
	bpf_spin_lock(&o->lock);
	o->val++;
	bpf_spin_unlock(&iv->lock);
	bpf_obj_drop(o);
	return 0;
}

/* I9: read an object's lock word. */
SEC("tc")
int obj_load_lock_word(struct __sk_buff *skb)
{
	A_NEW(o);
	__u32 w = *(volatile __u32 *)&o->lock;

	bpf_obj_drop(o);
	return w;
}

/* I9: write an object's lock word. */
SEC("tc")
int obj_store_lock_word(struct __sk_buff *skb)
{
	A_NEW(o);
	*(volatile __u32 *)&o->lock = 0;
	bpf_obj_drop(o);
	return 0;
}

/* I9 twin: read the word beside the lock. */
SEC("tc")
int obj_load_val_word(struct __sk_buff *skb)
{
	A_NEW(o);
	__u32 w = *(volatile __u32 *)&o->val;

	bpf_obj_drop(o);
	return w;
}

/* I3: the lock argument points into the object, 4 bytes past its lock. */
SEC("tc")
int obj_lock_wrong_offset(struct __sk_buff *skb)
{
	A_NEW(o);
	struct bpf_spin_lock *l = (struct bpf_spin_lock *)&o->val;

	bpf_spin_lock(l);
	bpf_spin_unlock(l);
	bpf_obj_drop(o);
	return 0;
}

/* I3: lock an object whose type holds no lock. */
SEC("tc")
int obj_lock_plain(struct __sk_buff *skb)
{
	struct plain_val *p = bpf_obj_new(struct plain_val);

	if (!p)
		return 0;
	bpf_spin_lock((struct bpf_spin_lock *)&p->pad);
	p->val++;
	bpf_spin_unlock((struct bpf_spin_lock *)&p->pad);
	bpf_obj_drop(p);
	return 0;
}

/* I6b: exit holding the object's lock. The object is stored nowhere: the exit also leaks
 * it, and the kernel names one of the two. */
SEC("tc")
int obj_exit_locked(struct __sk_buff *skb)
{
	A_NEW(o);
	bpf_spin_lock(&o->lock);
	o->val++;
	return 0;
}

/* I1: a helper call while holding an object's lock. */
SEC("tc")
int obj_helper_locked(struct __sk_buff *skb)
{
	A_NEW(o);
	bpf_spin_lock(&o->lock);
	o->val = bpf_ktime_get_ns();
	bpf_spin_unlock(&o->lock);
	bpf_obj_drop(o);
	return 0;
}

/* I1: bpf_obj_drop, a kfunc not allowed under a lock, before the unlock. */
SEC("tc")
int obj_drop_locked(struct __sk_buff *skb)
{
	A_NEW(o);
	struct locked_val *p = bpf_obj_new(struct locked_val);

	if (!p) {
		bpf_obj_drop(o);
		return 0;
	}
	bpf_spin_lock(&o->lock);
	o->val++;
	bpf_obj_drop(p);
	bpf_spin_unlock(&o->lock);
	bpf_obj_drop(o);
	return 0;
}

/* I1 twin: both drops after the unlock. */
SEC("tc")
int obj_drop_after_unlock(struct __sk_buff *skb)
{
	A_NEW(o);
	struct locked_val *p = bpf_obj_new(struct locked_val);

	if (!p) {
		bpf_obj_drop(o);
		return 0;
	}
	bpf_spin_lock(&o->lock);
	o->val++;
	bpf_spin_unlock(&o->lock);
	bpf_obj_drop(p);
	bpf_obj_drop(o);
	return 0;
}
