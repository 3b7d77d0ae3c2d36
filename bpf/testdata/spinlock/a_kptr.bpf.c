// SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause)
/* Home A through a kptr: an object from bpf_obj_new stored in a map value's __kptr field
 * and taken back with bpf_kptr_xchg. Taken back, it is an object like any other: its own
 * lock, I5 against any other lock, I9 with the object's words.
 * Built with clang >= 15 (Makefile: BPF_CLANG19_SRCS): clang 14 drops the __kptr tag. */
#include "slkinds.h"

char LICENSE[] SEC("license") = "Dual BSD/GPL";

struct stash_val {
	struct locked_val __kptr *obj;
};

struct {
	__uint(type, BPF_MAP_TYPE_ARRAY);
	__uint(max_entries, 2);
	__type(key, __u32);
	__type(value, struct stash_val);
} stash SEC(".maps");

SL_ARRAY(locked, struct locked_val);

/* K_SLOT(var, key): var = the stash slot at key, return 0 when absent. */
#define K_SLOT(var, key)                                       \
	__u32 var##_k = (key);                                 \
	struct stash_val *var = bpf_map_lookup_elem(&stash, &var##_k); \
	if (!var)                                              \
		return 0

/* K_TAKE(var, slot): var = the object taken out of slot, return 0 when it was empty. */
#define K_TAKE(var, slot)                                      \
	struct locked_val *var = bpf_kptr_xchg(&(slot)->obj, NULL); \
	if (!var)                                              \
		return 0

/* put puts o back into slot and drops what another program stored there meanwhile. */
static __always_inline void put(struct stash_val *slot, struct locked_val *o)
{
	o = bpf_kptr_xchg(&slot->obj, o);
	if (o)
		bpf_obj_drop(o);
}

/* Twin of every rule below, and the program that fills the stash: take the object (or make
 * one), lock it, update it, unlock, put it back. */
SEC("tc")
int kptr_lock(struct __sk_buff *skb)
{
	K_SLOT(s, 0);
	struct locked_val *o = bpf_kptr_xchg(&s->obj, NULL);

	if (!o) {
		o = bpf_obj_new(struct locked_val);
		if (!o)
			return 0;
	}
	bpf_spin_lock(&o->lock);
	o->val++;
	bpf_spin_unlock(&o->lock);
	put(s, o);
	return 0;
}

/* I5: lock the object of one slot, unlock the object of another. */
SEC("tc")
int kptr_unlock_other_kptr(struct __sk_buff *skb)
{
	K_SLOT(s0, 0);
	K_SLOT(s1, 1);
	K_TAKE(a, s0);
	struct locked_val *b = bpf_kptr_xchg(&s1->obj, NULL);

	if (!b) {
		put(s0, a);
		return 0;
	}
	bpf_spin_lock(&a->lock);
	a->val++;
	bpf_spin_unlock(&b->lock);
	put(s0, a);
	put(s1, b);
	return 0;
}

/* I5: lock the object taken from the stash, unlock an ordinary map value. */
SEC("tc")
int kptr_unlock_map_value(struct __sk_buff *skb)
{
	K_SLOT(s, 0);
	__u32 k = 0;
	struct locked_val *v = bpf_map_lookup_elem(&locked, &k);

	if (!v)
		return 0;
	K_TAKE(o, s);
	bpf_spin_lock(&o->lock);
	o->val++;
	bpf_spin_unlock(&v->lock);
	put(s, o);
	return 0;
}

/* I9: read the lock word of the object taken from the stash. */
SEC("tc")
int kptr_load_lock_word(struct __sk_buff *skb)
{
	K_SLOT(s, 0);
	K_TAKE(o, s);
	__u32 w = *(volatile __u32 *)&o->lock;

	put(s, o);
	return w;
}

/* I9 twin: read the word beside the lock. */
SEC("tc")
int kptr_load_val_word(struct __sk_buff *skb)
{
	K_SLOT(s, 0);
	K_TAKE(o, s);
	__u32 w = *(volatile __u32 *)&o->val;

	put(s, o);
	return w;
}

/* I6b: exit holding the lock of the object taken from the stash. */
SEC("tc")
int kptr_exit_locked(struct __sk_buff *skb)
{
	K_SLOT(s, 0);
	K_TAKE(o, s);
	bpf_spin_lock(&o->lock);
	o->val++;
	return 0;
}

/* I1: put the object back (bpf_kptr_xchg, a helper) while still holding its lock. */
SEC("tc")
int kptr_xchg_locked(struct __sk_buff *skb)
{
	K_SLOT(s, 0);
	K_TAKE(o, s);
	struct locked_val *old;

	bpf_spin_lock(&o->lock);
	o->val++;
	old = bpf_kptr_xchg(&s->obj, o);
	bpf_spin_unlock(&o->lock);
	if (old)
		bpf_obj_drop(old);
	return 0;
}

/* I3: lock the object in place, through the map value's kptr field, without taking it out:
 * a pointer loaded from a kptr field is not an object the program owns. */
SEC("tc")
int kptr_lock_in_place(struct __sk_buff *skb)
{
	K_SLOT(s, 0);
	struct locked_val *o = s->obj;

	if (!o)
		return 0;
	bpf_spin_lock(&o->lock);
	o->val++;
	bpf_spin_unlock(&o->lock);
	return 0;
}
