// SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause)
/* Rules R1-R6: the resilient lock, bpf_res_spin_lock (6.15+). Taking it can fail (deadlock,
 * timeout): only the path where it returned 0 holds it. Several may be held at once and
 * are released in reverse order. Also how the P and I rules apply to it: program types,
 * calls while one is held, exit with one held, an unchecked result. */
#include "slkinds.h"

char LICENSE[] SEC("license") = "Dual BSD/GPL";

struct res_map {
	__uint(type, BPF_MAP_TYPE_ARRAY);
	__uint(max_entries, 1);
	__type(key, __u32);
	__type(value, struct res_val);
};

struct res_map res_a SEC(".maps"), res_b SEC(".maps"), res_inner SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_ARRAY_OF_MAPS);
	__uint(max_entries, 1);
	__type(key, __u32);
	__array(values, struct res_map);
} res_outer SEC(".maps") = {
	.values = { [0] = &res_inner },
};

SL_ARRAY(plain, struct plain_val);
SL_ARRAY(spin, struct locked_val);

/* Global resilient locks, each alone in its section. */
private(RA) struct bpf_res_spin_lock gres;
private(RB) struct bpf_res_spin_lock gres2;

/* R_GET(var, map): var = element 0 of map, return 0 when absent. */
#define R_GET(var, map)                                        \
	__u32 var##_k = 0;                                     \
	struct res_val *var = bpf_map_lookup_elem(&(map), &var##_k); \
	if (!var)                                              \
		return 0

/* Twin of every rule below: take the lock, and only where it was taken, update and
 * release it. */
SEC("tc")
int res_lock(struct __sk_buff *skb)
{
	R_GET(v, res_a);
	if (bpf_res_spin_lock(&v->lock))
		return 0;
	v->val++;
	bpf_res_spin_unlock(&v->lock);
	return 0;
}

/* Twin of R2: the irqsave/irqrestore pair on one lock. */
SEC("tc")
int res_lock_irqsave(struct __sk_buff *skb)
{
	R_GET(v, res_a);
	unsigned long flags;

	if (bpf_res_spin_lock_irqsave(&v->lock, &flags))
		return 0;
	v->val++;
	bpf_res_spin_unlock_irqrestore(&v->lock, &flags);
	return 0;
}

/* Twin of R1 and R3: two locks nested, released in reverse order. */
SEC("tc")
int res_nested_lifo(struct __sk_buff *skb)
{
	R_GET(a, res_a);
	R_GET(b, res_b);
	if (bpf_res_spin_lock(&a->lock))
		return 0;
	if (bpf_res_spin_lock(&b->lock)) {
		bpf_res_spin_unlock(&a->lock);
		return 0;
	}
	a->val += b->val;
	bpf_res_spin_unlock(&b->lock);
	bpf_res_spin_unlock(&a->lock);
	return 0;
}

/* R1: take the same lock twice on one path. */
SEC("tc")
int res_lock_twice(struct __sk_buff *skb)
{
	R_GET(v, res_a);
	if (bpf_res_spin_lock(&v->lock))
		return 0;
	if (bpf_res_spin_lock(&v->lock)) {
		bpf_res_spin_unlock(&v->lock);
		return 0;
	}
	bpf_res_spin_unlock(&v->lock);
	bpf_res_spin_unlock(&v->lock);
	return 0;
}

/* R1: the same global lock twice. */
SEC("tc")
int res_global_twice(struct __sk_buff *skb)
{
	if (bpf_res_spin_lock(&gres))
		return 0;
	if (bpf_res_spin_lock(&gres)) {
		bpf_res_spin_unlock(&gres);
		return 0;
	}
	bpf_res_spin_unlock(&gres);
	bpf_res_spin_unlock(&gres);
	return 0;
}

/* R2: take one map's lock, release another's. */
SEC("tc")
int res_unlock_other(struct __sk_buff *skb)
{
	R_GET(a, res_a);
	R_GET(b, res_b);
	if (bpf_res_spin_lock(&a->lock))
		return 0;
	a->val++;
	bpf_res_spin_unlock(&b->lock);
	return 0;
}

/* R2: take a global lock, release a map value's. */
SEC("tc")
int res_unlock_global_other(struct __sk_buff *skb)
{
	R_GET(v, res_a);
	if (bpf_res_spin_lock(&gres))
		return 0;
	v->val++;
	bpf_res_spin_unlock(&v->lock);
	return 0;
}

/* R2: irqsave, then a plain unlock. */
SEC("tc")
int res_irqsave_plain_unlock(struct __sk_buff *skb)
{
	R_GET(v, res_a);
	unsigned long flags;

	if (bpf_res_spin_lock_irqsave(&v->lock, &flags))
		return 0;
	v->val++;
	bpf_res_spin_unlock(&v->lock);
	return 0;
}

/* R2: a plain lock, then irqrestore. */
SEC("tc")
int res_plain_lock_irqrestore(struct __sk_buff *skb)
{
	R_GET(v, res_a);
	unsigned long flags = 0;

	if (bpf_res_spin_lock(&v->lock))
		return 0;
	v->val++;
	bpf_res_spin_unlock_irqrestore(&v->lock, &flags);
	return 0;
}

/* R3: two nested locks released in the order they were taken. */
SEC("tc")
int res_unlock_out_of_order(struct __sk_buff *skb)
{
	R_GET(a, res_a);
	R_GET(b, res_b);
	if (bpf_res_spin_lock(&a->lock))
		return 0;
	if (bpf_res_spin_lock(&b->lock)) {
		bpf_res_spin_unlock(&a->lock);
		return 0;
	}
	a->val += b->val;
	bpf_res_spin_unlock(&a->lock);
	bpf_res_spin_unlock(&b->lock);
	return 0;
}

/* R4: the argument points into the value, 4 bytes past its lock. */
SEC("tc")
int res_lock_wrong_offset(struct __sk_buff *skb)
{
	R_GET(v, res_a);
	struct bpf_res_spin_lock *l = (struct bpf_res_spin_lock *)&v->val;

	if (bpf_res_spin_lock(l))
		return 0;
	bpf_res_spin_unlock(l);
	return 0;
}

/* R4: the argument at a variable offset. */
SEC("tc")
int res_lock_var_offset(struct __sk_buff *skb)
{
	R_GET(v, res_a);
	struct bpf_res_spin_lock *l = (void *)v + (skb->len & 4);

	if (bpf_res_spin_lock(l))
		return 0;
	bpf_res_spin_unlock(l);
	return 0;
}

/* R5: a map value without any lock. */
SEC("tc")
int res_lock_plain_map(struct __sk_buff *skb)
{
	__u32 k = 0;
	struct plain_val *p = bpf_map_lookup_elem(&plain, &k);

	if (!p)
		return 0;
	if (bpf_res_spin_lock((struct bpf_res_spin_lock *)&p->pad))
		return 0;
	bpf_res_spin_unlock((struct bpf_res_spin_lock *)&p->pad);
	return 0;
}

/* R5: a map value with a bpf_spin_lock, taken as a resilient lock. */
SEC("tc")
int res_lock_spin_map(struct __sk_buff *skb)
{
	__u32 k = 0;
	struct locked_val *p = bpf_map_lookup_elem(&spin, &k);

	if (!p)
		return 0;
	if (bpf_res_spin_lock((struct bpf_res_spin_lock *)&p->lock))
		return 0;
	bpf_res_spin_unlock((struct bpf_res_spin_lock *)&p->lock);
	return 0;
}

/* R5: an allocated object without a resilient lock. */
SEC("tc")
int res_lock_obj_no_lock(struct __sk_buff *skb)
{
	struct plain_val *p = bpf_obj_new(struct plain_val);

	if (!p)
		return 0;
	if (!bpf_res_spin_lock((struct bpf_res_spin_lock *)&p->pad))
		bpf_res_spin_unlock((struct bpf_res_spin_lock *)&p->pad);
	bpf_obj_drop(p);
	return 0;
}

/* R6: a lock on the stack. */
SEC("tc")
int res_lock_stack(struct __sk_buff *skb)
{
	struct bpf_res_spin_lock l = {};

	if (bpf_res_spin_lock(&l))
		return 0;
	bpf_res_spin_unlock(&l);
	return 0;
}

/* Twins: a resilient lock in the other homes, a global and an inner map's value. */
SEC("tc")
int res_global_lock(struct __sk_buff *skb)
{
	if (bpf_res_spin_lock(&gres))
		return 0;
	bpf_res_spin_unlock(&gres);
	return 0;
}

SEC("tc")
int res_inner_lock(struct __sk_buff *skb)
{
	__u32 k = 0;
	struct res_val *v;
	void *im = bpf_map_lookup_elem(&res_outer, &k);

	if (!im)
		return 0;
	v = bpf_map_lookup_elem(im, &k);
	if (!v)
		return 0;
	if (bpf_res_spin_lock(&v->lock))
		return 0;
	v->val++;
	bpf_res_spin_unlock(&v->lock);
	return 0;
}

/* R5, as 6.18 has it: an allocated object whose type holds a bpf_res_spin_lock. The kernel
 * does not look for resilient locks in the types of allocated objects, only in map values
 * and globals, so to it this object has none. */
SEC("tc")
int res_obj_lock(struct __sk_buff *skb)
{
	struct res_val *o = bpf_obj_new(struct res_val);

	if (!o)
		return 0;
	if (!bpf_res_spin_lock(&o->lock)) {
		o->val++;
		bpf_res_spin_unlock(&o->lock);
	}
	bpf_obj_drop(o);
	return 0;
}

/* P2: a tracepoint that takes a resilient lock. */
SEC("tp/syscalls/sys_enter_write")
int res_tp_lock(void *ctx)
{
	R_GET(v, res_a);
	if (bpf_res_spin_lock(&v->lock))
		return 0;
	v->val++;
	bpf_res_spin_unlock(&v->lock);
	return 0;
}

/* P1: a socket filter that takes a resilient lock. */
SEC("socket")
int res_socket_lock(struct __sk_buff *skb)
{
	R_GET(v, res_a);
	if (bpf_res_spin_lock(&v->lock))
		return 0;
	v->val++;
	bpf_res_spin_unlock(&v->lock);
	return 0;
}

/* I1: a helper call while a resilient lock is held. */
SEC("tc")
int res_helper_locked(struct __sk_buff *skb)
{
	R_GET(v, res_a);
	if (bpf_res_spin_lock(&v->lock))
		return 0;
	v->val = bpf_ktime_get_ns();
	bpf_res_spin_unlock(&v->lock);
	return 0;
}

/* I6b: exit while a resilient lock is held. */
SEC("tc")
int res_exit_locked(struct __sk_buff *skb)
{
	R_GET(v, res_a);
	if (bpf_res_spin_lock(&v->lock))
		return 0;
	v->val++;
	return 0;
}

/* I4: the result is not checked, so the path where the lock was not taken unlocks it. */
SEC("tc")
int res_unchecked(struct __sk_buff *skb)
{
	R_GET(v, res_a);
	bpf_res_spin_lock(&v->lock);
	v->val++;
	bpf_res_spin_unlock(&v->lock);
	return 0;
}

/* I1: a bpf_spin_lock taken while a resilient lock is held. */
SEC("tc")
int res_then_spin_lock(struct __sk_buff *skb)
{
	R_GET(v, res_a);
	__u32 k = 0;
	struct locked_val *s = bpf_map_lookup_elem(&spin, &k);

	if (!s)
		return 0;
	if (bpf_res_spin_lock(&v->lock))
		return 0;
	bpf_spin_lock(&s->lock);
	s->val++;
	bpf_spin_unlock(&s->lock);
	bpf_res_spin_unlock(&v->lock);
	return 0;
}

/* A resilient lock taken while a bpf_spin_lock is held (its kfuncs are allowed under one). */
SEC("tc")
int spin_then_res_lock(struct __sk_buff *skb)
{
	R_GET(v, res_a);
	__u32 k = 0;
	struct locked_val *s = bpf_map_lookup_elem(&spin, &k);

	if (!s)
		return 0;
	bpf_spin_lock(&s->lock);
	if (!bpf_res_spin_lock(&v->lock)) {
		v->val++;
		bpf_res_spin_unlock(&v->lock);
	}
	bpf_spin_unlock(&s->lock);
	return 0;
}
