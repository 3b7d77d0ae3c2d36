// SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause)
/* Rules H1 and H2 for lists (bpf_list_head, 6.2+): every list kfunc needs the lock that
 * guards its head, the bpf_spin_lock of the same map value, allocated object or global
 * section. H1: no lock held. H2: a lock held, but another one. Heads live in a map value,
 * an inner map's value, a global section and an allocated object. */
#include "slkinds.h"

char LICENSE[] SEC("license") = "Dual BSD/GPL";

/* A list element. */
struct item {
	__u32 val;
	struct bpf_list_node node;
};

/* A map value: a list and its lock. */
struct list_val {
	struct bpf_spin_lock lock;
	__u32 n;
	struct bpf_list_head head __contains(item, node);
};

/* An allocated object holding a list and its lock. */
struct list_obj {
	struct bpf_spin_lock lock;
	struct bpf_list_head head __contains(item, node);
};

struct list_map {
	__uint(type, BPF_MAP_TYPE_ARRAY);
	__uint(max_entries, 1);
	__type(key, __u32);
	__type(value, struct list_val);
};

struct list_map lists SEC(".maps"), inner_lists SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_ARRAY_OF_MAPS);
	__uint(max_entries, 1);
	__type(key, __u32);
	__array(values, struct list_map);
} outer SEC(".maps") = {
	.values = { [0] = &inner_lists },
};

/* A global list, guarded by the lock of its section; another section's lock. */
private(A) struct bpf_spin_lock glock;
private(A) struct bpf_list_head ghead __contains(item, node);
private(B) struct bpf_spin_lock glock2;

/* The kernel resolves __contains(item, node) and __contains(...) in list_obj by name:
 * keep both types in the object's BTF even where no program allocates them. */
struct item *item_anchor;
struct list_obj *list_obj_anchor;

/* L_VALUE(var): var = element 0 of lists, return 0 when absent. */
#define L_VALUE(var)                                           \
	__u32 var##_k = 0;                                     \
	struct list_val *var = bpf_map_lookup_elem(&lists, &var##_k); \
	if (!var)                                              \
		return 0

/* L_ITEM(var): var = a new item, return 0 when the allocation fails. */
#define L_ITEM(var)                                            \
	struct item *var = bpf_obj_new(struct item);           \
	if (!var)                                              \
		return 0

/* drop_node drops the item a pop returned, if any (after the unlock). */
static __always_inline void drop_node(struct bpf_list_node *n)
{
	if (n)
		bpf_obj_drop(container_of(n, struct item, node));
}

/* H1 / twin pairs on a map value's list: each kfunc without the lock, and with it. */

SEC("tc")
int push_front_nolock(struct __sk_buff *skb)
{
	L_VALUE(v);
	L_ITEM(it);
	bpf_list_push_front(&v->head, &it->node);
	return 0;
}

SEC("tc")
int push_front_locked(struct __sk_buff *skb)
{
	L_VALUE(v);
	L_ITEM(it);
	bpf_spin_lock(&v->lock);
	bpf_list_push_front(&v->head, &it->node);
	bpf_spin_unlock(&v->lock);
	return 0;
}

SEC("tc")
int push_back_nolock(struct __sk_buff *skb)
{
	L_VALUE(v);
	L_ITEM(it);
	bpf_list_push_back(&v->head, &it->node);
	return 0;
}

SEC("tc")
int push_back_locked(struct __sk_buff *skb)
{
	L_VALUE(v);
	L_ITEM(it);
	bpf_spin_lock(&v->lock);
	bpf_list_push_back(&v->head, &it->node);
	bpf_spin_unlock(&v->lock);
	return 0;
}

SEC("tc")
int pop_front_nolock(struct __sk_buff *skb)
{
	L_VALUE(v);
	drop_node(bpf_list_pop_front(&v->head));
	return 0;
}

SEC("tc")
int pop_front_locked(struct __sk_buff *skb)
{
	L_VALUE(v);
	struct bpf_list_node *n;

	bpf_spin_lock(&v->lock);
	n = bpf_list_pop_front(&v->head);
	bpf_spin_unlock(&v->lock);
	drop_node(n);
	return 0;
}

SEC("tc")
int pop_back_nolock(struct __sk_buff *skb)
{
	L_VALUE(v);
	drop_node(bpf_list_pop_back(&v->head));
	return 0;
}

SEC("tc")
int pop_back_locked(struct __sk_buff *skb)
{
	L_VALUE(v);
	struct bpf_list_node *n;

	bpf_spin_lock(&v->lock);
	n = bpf_list_pop_back(&v->head);
	bpf_spin_unlock(&v->lock);
	drop_node(n);
	return 0;
}

SEC("tc")
int front_nolock(struct __sk_buff *skb)
{
	L_VALUE(v);
	return bpf_list_front(&v->head) != NULL;
}

SEC("tc")
int front_locked(struct __sk_buff *skb)
{
	L_VALUE(v);
	struct bpf_list_node *n;
	__u32 val = 0;

	bpf_spin_lock(&v->lock);
	n = bpf_list_front(&v->head);
	if (n)
		val = container_of(n, struct item, node)->val;
	bpf_spin_unlock(&v->lock);
	return val;
}

SEC("tc")
int back_nolock(struct __sk_buff *skb)
{
	L_VALUE(v);
	return bpf_list_back(&v->head) != NULL;
}

SEC("tc")
int back_locked(struct __sk_buff *skb)
{
	L_VALUE(v);
	struct bpf_list_node *n;
	__u32 val = 0;

	bpf_spin_lock(&v->lock);
	n = bpf_list_back(&v->head);
	if (n)
		val = container_of(n, struct item, node)->val;
	bpf_spin_unlock(&v->lock);
	return val;
}

/* H1 / twin on an inner map's value. */

#define L_INNER(var)                                           \
	struct list_val *var;                                  \
	do {                                                   \
		__u32 _k = 0;                                  \
		void *_im = bpf_map_lookup_elem(&outer, &_k);  \
		if (!_im)                                      \
			return 0;                              \
		var = bpf_map_lookup_elem(_im, &_k);           \
		if (!var)                                      \
			return 0;                              \
	} while (0)

SEC("tc")
int inner_pop_nolock(struct __sk_buff *skb)
{
	L_INNER(v);
	drop_node(bpf_list_pop_front(&v->head));
	return 0;
}

SEC("tc")
int inner_pop_locked(struct __sk_buff *skb)
{
	L_INNER(v);
	struct bpf_list_node *n;

	bpf_spin_lock(&v->lock);
	n = bpf_list_pop_front(&v->head);
	bpf_spin_unlock(&v->lock);
	drop_node(n);
	return 0;
}

/* H1 / twin on a global list. */

SEC("tc")
int global_push_nolock(struct __sk_buff *skb)
{
	L_ITEM(it);
	bpf_list_push_back(&ghead, &it->node);
	return 0;
}

SEC("tc")
int global_push_locked(struct __sk_buff *skb)
{
	L_ITEM(it);
	bpf_spin_lock(&glock);
	bpf_list_push_back(&ghead, &it->node);
	bpf_spin_unlock(&glock);
	return 0;
}

/* H1 / twin on an allocated object's list. The twin pushes an item into a new object
 * under the object's lock, and drops the object (and with it the item) after the unlock. */

SEC("tc")
int obj_push_nolock(struct __sk_buff *skb)
{
	struct list_obj *o = bpf_obj_new(struct list_obj);

	if (!o)
		return 0;
	L_ITEM(it);
	bpf_list_push_front(&o->head, &it->node);
	bpf_obj_drop(o);
	return 0;
}

SEC("tc")
int obj_push_locked(struct __sk_buff *skb)
{
	struct list_obj *o = bpf_obj_new(struct list_obj);
	struct item *it;

	if (!o)
		return 0;
	it = bpf_obj_new(struct item);
	if (!it) {
		bpf_obj_drop(o);
		return 0;
	}
	bpf_spin_lock(&o->lock);
	bpf_list_push_front(&o->head, &it->node);
	bpf_spin_unlock(&o->lock);
	bpf_obj_drop(o);
	return 0;
}

/* H2: a lock is held, but not the one that guards the head. */

/* Another lookup of the same map: the kernel cannot know it is the same value. */
SEC("tc")
int push_other_lookup_lock(struct __sk_buff *skb)
{
	L_VALUE(v);
	L_VALUE(w);
	L_ITEM(it);
	bpf_spin_lock(&v->lock);
	bpf_list_push_back(&w->head, &it->node);
	bpf_spin_unlock(&v->lock);
	return 0;
}

/* The global list under the lock of another section. */
SEC("tc")
int global_push_other_section_lock(struct __sk_buff *skb)
{
	L_ITEM(it);
	bpf_spin_lock(&glock2);
	bpf_list_push_back(&ghead, &it->node);
	bpf_spin_unlock(&glock2);
	return 0;
}

/* A map value's list under the global lock. */
SEC("tc")
int pop_global_lock_map_head(struct __sk_buff *skb)
{
	L_VALUE(v);
	struct bpf_list_node *n;

	bpf_spin_lock(&glock);
	n = bpf_list_pop_front(&v->head);
	bpf_spin_unlock(&glock);
	drop_node(n);
	return 0;
}

/* The global list under a map value's lock. */
SEC("tc")
int pop_map_lock_global_head(struct __sk_buff *skb)
{
	L_VALUE(v);
	struct bpf_list_node *n;

	bpf_spin_lock(&v->lock);
	n = bpf_list_pop_front(&ghead);
	bpf_spin_unlock(&v->lock);
	drop_node(n);
	return 0;
}

/* One object's list under another object's lock. */
SEC("tc")
int obj_pop_other_obj_lock(struct __sk_buff *skb)
{
	struct list_obj *a = bpf_obj_new(struct list_obj);
	struct list_obj *b;
	struct bpf_list_node *n;

	if (!a)
		return 0;
	b = bpf_obj_new(struct list_obj);
	if (!b) {
		bpf_obj_drop(a);
		return 0;
	}
	bpf_spin_lock(&a->lock);
	n = bpf_list_pop_front(&b->head);
	bpf_spin_unlock(&a->lock);
	drop_node(n);
	bpf_obj_drop(a);
	bpf_obj_drop(b);
	return 0;
}
