// SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause)
/* More of I1, I3, I5 and I9, as they show up in real programs: a helper called from a
 * static subprogram under the lock, a second lookup of the very same key, clearing a whole
 * value, a lock on the stack. */
#include "slcorpus.h"

char LICENSE[] SEC("license") = "Dual BSD/GPL";

SL_ARRAY(locked, struct locked_val);

#define SL_GET(var, map, key)                                  \
	__u32 var##_k = (key);                                 \
	struct locked_val *var = bpf_map_lookup_elem(&(map), &var##_k); \
	if (!var)                                              \
		return 0

static __noinline __u32 stamp(struct locked_val *v)
{
	return bpf_ktime_get_ns() + v->val;
}

/* I1: the static subprogram called under the lock calls a helper. */
SEC("tc")
int static_call_helper_locked(struct __sk_buff *skb)
{
	SL_GET(v, locked, 0);
	bpf_spin_lock(&v->lock);
	v->val = stamp(v);
	bpf_spin_unlock(&v->lock);
	return 0;
}

/* I5: two lookups of the same key give the same element, but the verifier gives each
 * lookup its own lock identity. */
SEC("tc")
int unlock_same_key_other_lookup(struct __sk_buff *skb)
{
	SL_GET(a, locked, 0);
	SL_GET(b, locked, 0);
	bpf_spin_lock(&a->lock);
	a->val++;
	bpf_spin_unlock(&b->lock);
	return 0;
}

/* I9: clearing the whole value writes over the lock word. */
SEC("tc")
int memset_value(struct __sk_buff *skb)
{
	SL_GET(v, locked, 0);
	__builtin_memset(v, 0, sizeof(*v));
	return 0;
}

/* I9 twin: clear only what follows the lock. */
SEC("tc")
int clear_after_lock(struct __sk_buff *skb)
{
	SL_GET(v, locked, 0);
	v->val = 0;
	return 0;
}

/* I9 twin: bpf_map_update_elem with a whole value: the kernel copies around the lock. */
SEC("tc")
int update_elem_value(struct __sk_buff *skb)
{
	__u32 k = 0;
	struct locked_val nv = {};

	nv.val = skb->len;
	bpf_map_update_elem(&locked, &k, &nv, BPF_ANY);
	return 0;
}

/* I3: a lock on the stack is no lock the kernel knows of. */
SEC("tc")
int stack_lock(struct __sk_buff *skb)
{
	struct bpf_spin_lock l = {};

	bpf_spin_lock(&l);
	bpf_spin_unlock(&l);
	return 0;
}
