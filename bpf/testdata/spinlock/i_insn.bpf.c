// SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause)
/* Rules I1-I9: what the verifier's walk rejects between bpf_spin_lock and
 * bpf_spin_unlock. Every program is a tc classifier (SCHED_CLS: may lock, may use
 * LD_ABS and tail calls), so only the instructions differ between a program and its twin. */
#include "slcorpus.h"

char LICENSE[] SEC("license") = "Dual BSD/GPL";

SL_ARRAY(locked, struct locked_val);
SL_ARRAY(locked2, struct locked_val);
SL_ARRAY(plain, struct plain_val);

struct {
	__uint(type, BPF_MAP_TYPE_HASH);
	__uint(max_entries, 2);
	__type(key, __u32);
	__type(value, struct locked_val);
} locked_hash SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_PROG_ARRAY);
	__uint(max_entries, 1);
	__type(key, __u32);
	__type(value, __u32);
} jmp SEC(".maps");

/* LD_ABS, as clang spells it. */
unsigned long long load_byte(void *skb, unsigned long long off) asm("llvm.bpf.load.byte");

/* SL_GET(var, map, key): look key up in map into var, return 0 when absent. */
#define SL_GET(var, map, key)                                  \
	__u32 var##_k = (key);                                 \
	struct locked_val *var = bpf_map_lookup_elem(&(map), &var##_k); \
	if (!var)                                              \
		return 0

/* Twin of every I rule: lock, update, unlock. */
SEC("tc")
int lock_ok(struct __sk_buff *skb)
{
	SL_GET(v, locked, 0);
	bpf_spin_lock(&v->lock);
	v->val++;
	bpf_spin_unlock(&v->lock);
	return 0;
}

/* I1: a helper call while holding the lock. */
SEC("tc")
int helper_locked(struct __sk_buff *skb)
{
	SL_GET(v, locked, 0);
	bpf_spin_lock(&v->lock);
	v->val = bpf_ktime_get_ns();
	bpf_spin_unlock(&v->lock);
	return 0;
}

/* I1 twin: the same helper called before the lock. */
SEC("tc")
int helper_before_lock(struct __sk_buff *skb)
{
	SL_GET(v, locked, 0);
	__u32 now = bpf_ktime_get_ns();

	bpf_spin_lock(&v->lock);
	v->val = now;
	bpf_spin_unlock(&v->lock);
	return 0;
}

/* I1: a map lookup while holding the lock. */
SEC("tc")
int lookup_locked(struct __sk_buff *skb)
{
	SL_GET(v, locked, 0);
	__u32 k = 0;
	struct plain_val *p;

	bpf_spin_lock(&v->lock);
	p = bpf_map_lookup_elem(&plain, &k);
	if (p)
		v->val = p->val;
	bpf_spin_unlock(&v->lock);
	return 0;
}

__noinline int global_bump(int x)
{
	return x + 1;
}

static __noinline int static_bump(int x)
{
	return x + 1;
}

/* I1a: a global (BPF-to-BPF) function call while holding the lock. */
SEC("tc")
int global_call_locked(struct __sk_buff *skb)
{
	SL_GET(v, locked, 0);
	bpf_spin_lock(&v->lock);
	v->val = global_bump(v->val);
	bpf_spin_unlock(&v->lock);
	return 0;
}

/* I1a twin: a static function call while holding the lock (6.9+). */
SEC("tc")
int static_call_locked(struct __sk_buff *skb)
{
	SL_GET(v, locked, 0);
	bpf_spin_lock(&v->lock);
	v->val = static_bump(v->val);
	bpf_spin_unlock(&v->lock);
	return 0;
}

/* I1b twin: bpf_iter_num_* kfuncs while holding the lock (6.14+). */
SEC("tc")
int iter_num_locked(struct __sk_buff *skb)
{
	SL_GET(v, locked, 0);
	struct bpf_iter_num it;
	int *n, sum = 0;

	bpf_spin_lock(&v->lock);
	bpf_iter_num_new(&it, 0, 3);
	while ((n = bpf_iter_num_next(&it)))
		sum += *n;
	bpf_iter_num_destroy(&it);
	v->val += sum;
	bpf_spin_unlock(&v->lock);
	return 0;
}

extern void bpf_rcu_read_lock(void) __ksym __weak;
extern void bpf_rcu_read_unlock(void) __ksym __weak;

/* I1 (I1b's limit): a kfunc that is not on the allowed list, while holding the lock. */
SEC("tc")
int kfunc_locked(struct __sk_buff *skb)
{
	SL_GET(v, locked, 0);
	bpf_spin_lock(&v->lock);
	bpf_rcu_read_lock();
	v->val++;
	bpf_rcu_read_unlock();
	bpf_spin_unlock(&v->lock);
	return 0;
}

/* I2: a second lock while holding one. */
SEC("tc")
int double_lock(struct __sk_buff *skb)
{
	SL_GET(a, locked, 0);
	SL_GET(b, locked2, 0);
	bpf_spin_lock(&a->lock);
	bpf_spin_lock(&b->lock);
	a->val += b->val;
	bpf_spin_unlock(&b->lock);
	bpf_spin_unlock(&a->lock);
	return 0;
}

/* I2 twin: the two locks taken one after the other. */
SEC("tc")
int sequential_locks(struct __sk_buff *skb)
{
	SL_GET(a, locked, 0);
	SL_GET(b, locked2, 0);
	__u32 x;

	bpf_spin_lock(&b->lock);
	x = b->val;
	bpf_spin_unlock(&b->lock);
	bpf_spin_lock(&a->lock);
	a->val += x;
	bpf_spin_unlock(&a->lock);
	return 0;
}

/* I3: the lock argument at a variable offset. */
SEC("tc")
int lock_var_offset(struct __sk_buff *skb)
{
	SL_GET(v, locked, 0);
	struct bpf_spin_lock *l = (void *)v + (skb->len & 4);

	bpf_spin_lock(l);
	bpf_spin_unlock(l);
	return 0;
}

/* I3: the lock argument at a constant offset that is not the lock's. */
SEC("tc")
int lock_wrong_offset(struct __sk_buff *skb)
{
	SL_GET(v, locked, 0);
	struct bpf_spin_lock *l = (struct bpf_spin_lock *)&v->val;

	bpf_spin_lock(l);
	bpf_spin_unlock(l);
	return 0;
}

/* I3: lock a value that holds no lock. */
SEC("tc")
int lock_plain_map(struct __sk_buff *skb)
{
	__u32 k = 0;
	struct plain_val *p = bpf_map_lookup_elem(&plain, &k);
	struct bpf_spin_lock *l;

	if (!p)
		return 0;
	l = (struct bpf_spin_lock *)&p->pad;
	bpf_spin_lock(l);
	p->val++;
	bpf_spin_unlock(l);
	return 0;
}

/* I4: unlock without lock. */
SEC("tc")
int unlock_only(struct __sk_buff *skb)
{
	SL_GET(v, locked, 0);
	v->val++;
	bpf_spin_unlock(&v->lock);
	return 0;
}

/* I5: lock one map's element, unlock another map's. */
SEC("tc")
int unlock_other_map(struct __sk_buff *skb)
{
	SL_GET(a, locked, 0);
	SL_GET(b, locked2, 0);
	bpf_spin_lock(&a->lock);
	a->val++;
	bpf_spin_unlock(&b->lock);
	return 0;
}

/* I5: lock the element of one lookup, unlock the element of another lookup of the same
 * map (the verifier cannot know they are the same element). */
SEC("tc")
int unlock_other_lookup(struct __sk_buff *skb)
{
	SL_GET(a, locked_hash, 0);
	SL_GET(b, locked_hash, 1);
	bpf_spin_lock(&a->lock);
	a->val++;
	bpf_spin_unlock(&b->lock);
	return 0;
}

/* I6b (I6 before 6.13): exit with the lock held. */
SEC("tc")
int exit_locked(struct __sk_buff *skb)
{
	SL_GET(v, locked, 0);
	bpf_spin_lock(&v->lock);
	v->val++;
	return 0;
}

/* I6b: unlock on one branch only. */
SEC("tc")
int unlock_one_branch(struct __sk_buff *skb)
{
	SL_GET(v, locked, 0);
	bpf_spin_lock(&v->lock);
	v->val++;
	if (skb->len & 1)
		bpf_spin_unlock(&v->lock);
	return 0;
}

static __noinline int take_lock(struct locked_val *v)
{
	bpf_spin_lock(&v->lock);
	return 0;
}

/* I6 twin: a subprogram takes the lock and returns with it held, the caller releases. */
SEC("tc")
int subprog_lock_caller_unlock(struct __sk_buff *skb)
{
	SL_GET(v, locked, 0);
	take_lock(v);
	v->val++;
	bpf_spin_unlock(&v->lock);
	return 0;
}

/* I7: LD_ABS while holding the lock. */
SEC("tc")
int ld_abs_locked(struct __sk_buff *skb)
{
	SL_GET(v, locked, 0);
	bpf_spin_lock(&v->lock);
	v->val = load_byte(skb, 0);
	bpf_spin_unlock(&v->lock);
	return 0;
}

/* I7 twin: LD_ABS before the lock. */
SEC("tc")
int ld_abs_before_lock(struct __sk_buff *skb)
{
	SL_GET(v, locked, 0);
	__u32 b = load_byte(skb, 0);

	bpf_spin_lock(&v->lock);
	v->val = b;
	bpf_spin_unlock(&v->lock);
	return 0;
}

/* I8: a tail call while holding the lock. */
SEC("tc")
int tail_call_locked(struct __sk_buff *skb)
{
	SL_GET(v, locked, 0);
	bpf_spin_lock(&v->lock);
	v->val++;
	bpf_tail_call(skb, &jmp, 0);
	bpf_spin_unlock(&v->lock);
	return 0;
}

/* I8 twin: the tail call after the unlock. */
SEC("tc")
int tail_call_after_unlock(struct __sk_buff *skb)
{
	SL_GET(v, locked, 0);
	bpf_spin_lock(&v->lock);
	v->val++;
	bpf_spin_unlock(&v->lock);
	bpf_tail_call(skb, &jmp, 0);
	return 0;
}

/* I9: read the lock word. */
SEC("tc")
int load_lock_word(struct __sk_buff *skb)
{
	SL_GET(v, locked, 0);
	return *(volatile __u32 *)&v->lock;
}

/* I9: write the lock word. */
SEC("tc")
int store_lock_word(struct __sk_buff *skb)
{
	SL_GET(v, locked, 0);
	*(volatile __u32 *)&v->lock = 0;
	return 0;
}

/* I9 twin: read the word beside the lock. */
SEC("tc")
int load_val_word(struct __sk_buff *skb)
{
	SL_GET(v, locked, 0);
	return *(volatile __u32 *)&v->val;
}
