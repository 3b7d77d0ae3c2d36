// SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause)
/* Lock state carried through a static subprogram's returned pointer (issue 9). A static
 * subprogram looks a value up, locks it when found and returns the pointer: on each path
 * the verifier knows whether the pointer is NULL and whether the lock is held, so a caller
 * that returns early on NULL and otherwise hands the pointer to a second static subprogram
 * that unlocks is correct. Its near-twins break it on one path. */
#include "slcorpus.h"

char LICENSE[] SEC("license") = "Dual BSD/GPL";

SL_ARRAY(locked, struct locked_val);

/* lookup_locked returns element key of locked, its lock held, or NULL (no lock held). */
static __noinline struct locked_val *lookup_locked(__u32 key)
{
	struct locked_val *v = bpf_map_lookup_elem(&locked, &key);

	if (v)
		bpf_spin_lock(&v->lock);
	return v;
}

/* release unlocks v. */
static __noinline int release(struct locked_val *v)
{
	bpf_spin_unlock(&v->lock);
	return 0;
}

/* Twin of I6b: the valid program. The kernel loads it. */
SEC("tc")
int subprog_lock_returned(struct __sk_buff *skb)
{
	struct locked_val *v = lookup_locked(0);

	if (!v)
		return 0;
	v->val++;
	release(v);
	return 0;
}

/* I6b: the caller releases the lock on one path only. */
SEC("tc")
int subprog_lock_returned_one_path(struct __sk_buff *skb)
{
	struct locked_val *v = lookup_locked(0);

	if (!v)
		return 0;
	v->val++;
	if (skb->len & 1)
		release(v);
	return 0;
}

/* I6b: the NULL check inverted: the caller returns holding the lock when the lookup found
 * the value (and hands NULL to release otherwise). */
SEC("tc")
int subprog_lock_returned_inverted(struct __sk_buff *skb)
{
	struct locked_val *v = lookup_locked(0);

	if (v)
		return 0;
	release(v);
	return 0;
}

/* I6b: the caller checks the pointer but never releases. */
SEC("tc")
int subprog_lock_returned_no_release(struct __sk_buff *skb)
{
	struct locked_val *v = lookup_locked(0);

	if (!v)
		return 0;
	v->val++;
	return 0;
}

/* Twin: the caller releases inline, with bpf_spin_unlock, instead of a subprogram. */
SEC("tc")
int subprog_lock_returned_inline_unlock(struct __sk_buff *skb)
{
	struct locked_val *v = lookup_locked(0);

	if (!v)
		return 0;
	v->val++;
	bpf_spin_unlock(&v->lock);
	return 0;
}

/* I5: the value the subprogram locked and another lookup's value released. */
SEC("tc")
int subprog_lock_returned_release_other(struct __sk_buff *skb)
{
	__u32 k = 0;
	struct locked_val *w = bpf_map_lookup_elem(&locked, &k);
	struct locked_val *v;

	if (!w)
		return 0;
	v = lookup_locked(0);
	if (!v)
		return 0;
	v->val++;
	release(w);
	return 0;
}
