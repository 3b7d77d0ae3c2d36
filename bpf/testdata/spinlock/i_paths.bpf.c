// SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause)
/* Rules I1, I4 and I6b across paths, loops, callbacks and BPF-to-BPF calls: the cases
 * where the verifier's walk of every path, with what it knows of each register, decides. */
#include "slcorpus.h"

char LICENSE[] SEC("license") = "Dual BSD/GPL";

SL_ARRAY(locked, struct locked_val);

#define SL_GET(var, map, key)                                  \
	__u32 var##_k = (key);                                 \
	struct locked_val *var = bpf_map_lookup_elem(&(map), &var##_k); \
	if (!var)                                              \
		return 0

/* Twin of I6b: lock and unlock under the same condition, kept in one register; the
 * verifier knows the second test's outcome on each path. */
SEC("tc")
int correlated_same_reg(struct __sk_buff *skb)
{
	SL_GET(v, locked, 0);
	__u32 c = skb->len & 1;

	if (c)
		bpf_spin_lock(&v->lock);
	barrier_var(c);
	v->val++;
	if (c)
		bpf_spin_unlock(&v->lock);
	return 0;
}

/* I6b: the same condition read twice from the context: the verifier cannot correlate the
 * two loads and finds the path that locks and does not unlock. */
SEC("tc")
int correlated_reload(struct __sk_buff *skb)
{
	SL_GET(v, locked, 0);

	if (*(volatile __u32 *)&skb->len & 1)
		bpf_spin_lock(&v->lock);
	v->val++;
	if (*(volatile __u32 *)&skb->len & 1)
		bpf_spin_unlock(&v->lock);
	return 0;
}

/* Twin: lock and unlock in every round of a loop with a bound the verifier must walk. */
SEC("tc")
int loop_lock_unlock(struct __sk_buff *skb)
{
	SL_GET(v, locked, 0);
	__u32 n = skb->len & 7;

	for (__u32 i = 0; i < n; i++) {
		bpf_spin_lock(&v->lock);
		v->val++;
		bpf_spin_unlock(&v->lock);
	}
	return 0;
}

static __noinline int take(struct locked_val *v)
{
	bpf_spin_lock(&v->lock);
	return 0;
}

static __noinline int release(struct locked_val *v)
{
	bpf_spin_unlock(&v->lock);
	return 0;
}

/* Twin: one static subprogram takes the lock, another releases it. */
SEC("tc")
int lock_unlock_in_subprogs(struct __sk_buff *skb)
{
	SL_GET(v, locked, 0);
	take(v);
	v->val++;
	release(v);
	return 0;
}

/* I4: a static subprogram releases a lock nobody took. */
SEC("tc")
int unlock_in_subprog_only(struct __sk_buff *skb)
{
	SL_GET(v, locked, 0);
	v->val++;
	release(v);
	return 0;
}

/* A global function that looks the map up and returns with the lock held. */
__noinline int global_take(void)
{
	__u32 k = 0;
	struct locked_val *v = bpf_map_lookup_elem(&locked, &k);

	if (!v)
		return 0;
	bpf_spin_lock(&v->lock);
	return 1;
}

/* I6b: the global function is verified on its own, and exits holding the lock. */
SEC("tc")
int global_func_exits_locked(struct __sk_buff *skb)
{
	return global_take();
}

static int cb_lock_unlock(__u32 i, void *ctx)
{
	__u32 k = 0;
	struct locked_val *v = bpf_map_lookup_elem(&locked, &k);

	if (!v)
		return 1;
	bpf_spin_lock(&v->lock);
	v->val++;
	bpf_spin_unlock(&v->lock);
	return 0;
}

static int cb_lock_only(__u32 i, void *ctx)
{
	__u32 k = 0;
	struct locked_val *v = bpf_map_lookup_elem(&locked, &k);

	if (!v)
		return 1;
	bpf_spin_lock(&v->lock);
	v->val++;
	return 0;
}

/* Twin: a bpf_loop callback locks and unlocks. */
SEC("tc")
int loop_callback_lock(struct __sk_buff *skb)
{
	bpf_loop(4, cb_lock_unlock, 0, 0);
	return 0;
}

/* I1: the bpf_loop callback returns with the lock held; the verifier then simulates the
 * next call of the callback under the lock, and refuses that call. */
SEC("tc")
int loop_callback_exits_locked(struct __sk_buff *skb)
{
	bpf_loop(4, cb_lock_only, 0, 0);
	return 0;
}
