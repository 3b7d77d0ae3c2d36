// SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause)
/* Rules H1, H2 and H3 for red-black trees (bpf_rb_root, 6.3+): every rbtree kfunc needs
 * the lock that guards its root (H1: none held; H2: another one held), and the less()
 * callback of bpf_rbtree_add runs with that lock held, so it may neither unlock (H3) nor
 * take a lock (which the kernel reports as a call under the lock, I1). Roots live in a
 * global section, a map value and an allocated object. */
#include "slkinds.h"

char LICENSE[] SEC("license") = "Dual BSD/GPL";

/* A tree node. */
struct rnode {
	__u64 key;
	struct bpf_rb_node node;
};

/* A map value: a tree and its lock. */
struct tree_val {
	struct bpf_spin_lock lock;
	struct bpf_rb_root root __contains(rnode, node);
};

/* An allocated object holding a tree and its lock. */
struct tree_obj {
	struct bpf_spin_lock lock;
	struct bpf_rb_root root __contains(rnode, node);
};

SL_ARRAY(trees, struct tree_val);

/* A global tree, guarded by the lock of its section; another section's lock. */
private(A) struct bpf_spin_lock glock;
private(A) struct bpf_rb_root groot __contains(rnode, node);
private(B) struct bpf_spin_lock glock2;

struct rnode *rnode_anchor;
struct tree_obj *tree_obj_anchor;

static bool less(struct bpf_rb_node *a, const struct bpf_rb_node *b)
{
	return container_of(a, struct rnode, node)->key <
	       container_of(b, struct rnode, node)->key;
}

/* R_NODE(var): var = a new node, return 0 when the allocation fails. */
#define R_NODE(var)                                            \
	struct rnode *var = bpf_obj_new(struct rnode);         \
	if (!var)                                              \
		return 0

/* drop_node drops the node a remove returned, if any (after the unlock). */
static __always_inline void drop_node(struct bpf_rb_node *n)
{
	if (n)
		bpf_obj_drop(container_of(n, struct rnode, node));
}

/* H1 / twin pairs on the global tree. */

SEC("tc")
int add_nolock(struct __sk_buff *skb)
{
	R_NODE(n);
	bpf_rbtree_add(&groot, &n->node, less);
	return 0;
}

/* Twin of H1, H2, H3: add under the root's lock, with a less() that only compares. */
SEC("tc")
int add_locked(struct __sk_buff *skb)
{
	R_NODE(n);
	n->key = skb->len;
	bpf_spin_lock(&glock);
	bpf_rbtree_add(&groot, &n->node, less);
	bpf_spin_unlock(&glock);
	return 0;
}

SEC("tc")
int first_nolock(struct __sk_buff *skb)
{
	return bpf_rbtree_first(&groot) != NULL;
}

SEC("tc")
int first_locked(struct __sk_buff *skb)
{
	struct bpf_rb_node *n;
	__u64 key = 0;

	bpf_spin_lock(&glock);
	n = bpf_rbtree_first(&groot);
	if (n)
		key = container_of(n, struct rnode, node)->key;
	bpf_spin_unlock(&glock);
	return key;
}

/* H1: remove without the lock (the root is checked before the node). */
SEC("tc")
int remove_nolock(struct __sk_buff *skb)
{
	R_NODE(n);
	drop_node(bpf_rbtree_remove(&groot, &n->node));
	return 0;
}

SEC("tc")
int remove_locked(struct __sk_buff *skb)
{
	struct bpf_rb_node *n;

	bpf_spin_lock(&glock);
	n = bpf_rbtree_first(&groot);
	if (n)
		n = bpf_rbtree_remove(&groot, n);
	bpf_spin_unlock(&glock);
	drop_node(n);
	return 0;
}

SEC("tc")
int root_nolock(struct __sk_buff *skb)
{
	return bpf_rbtree_root(&groot) != NULL;
}

/* Twin of H1 for root, left and right: walk from the root under the lock. */
SEC("tc")
int root_left_right_locked(struct __sk_buff *skb)
{
	struct bpf_rb_node *r, *l = NULL, *rr = NULL;

	bpf_spin_lock(&glock);
	r = bpf_rbtree_root(&groot);
	if (r) {
		l = bpf_rbtree_left(&groot, r);
		rr = bpf_rbtree_right(&groot, r);
	}
	bpf_spin_unlock(&glock);
	return (l != NULL) + (rr != NULL);
}

/* H1: left, with the root taken under the lock but walked after the unlock. */
SEC("tc")
int left_nolock(struct __sk_buff *skb)
{
	struct bpf_rb_node *r;

	bpf_spin_lock(&glock);
	r = bpf_rbtree_root(&groot);
	bpf_spin_unlock(&glock);
	if (!r)
		return 0;
	return bpf_rbtree_left(&groot, r) != NULL;
}

/* H1 / twin on a map value's tree and on an allocated object's tree. */

SEC("tc")
int value_add_nolock(struct __sk_buff *skb)
{
	__u32 k = 0;
	struct tree_val *v = bpf_map_lookup_elem(&trees, &k);

	if (!v)
		return 0;
	R_NODE(n);
	bpf_rbtree_add(&v->root, &n->node, less);
	return 0;
}

SEC("tc")
int value_add_locked(struct __sk_buff *skb)
{
	__u32 k = 0;
	struct tree_val *v = bpf_map_lookup_elem(&trees, &k);

	if (!v)
		return 0;
	R_NODE(n);
	bpf_spin_lock(&v->lock);
	bpf_rbtree_add(&v->root, &n->node, less);
	bpf_spin_unlock(&v->lock);
	return 0;
}

SEC("tc")
int obj_first_nolock(struct __sk_buff *skb)
{
	struct tree_obj *o = bpf_obj_new(struct tree_obj);
	int found;

	if (!o)
		return 0;
	found = bpf_rbtree_first(&o->root) != NULL;
	bpf_obj_drop(o);
	return found;
}

SEC("tc")
int obj_first_locked(struct __sk_buff *skb)
{
	struct tree_obj *o = bpf_obj_new(struct tree_obj);
	int found;

	if (!o)
		return 0;
	bpf_spin_lock(&o->lock);
	found = bpf_rbtree_first(&o->root) != NULL;
	bpf_spin_unlock(&o->lock);
	bpf_obj_drop(o);
	return found;
}

/* H2: the global tree under another section's lock. */
SEC("tc")
int add_other_section_lock(struct __sk_buff *skb)
{
	R_NODE(n);
	bpf_spin_lock(&glock2);
	bpf_rbtree_add(&groot, &n->node, less);
	bpf_spin_unlock(&glock2);
	return 0;
}

/* H2: a map value's tree under the global tree's lock. */
SEC("tc")
int value_first_global_lock(struct __sk_buff *skb)
{
	__u32 k = 0;
	struct tree_val *v = bpf_map_lookup_elem(&trees, &k);
	int found;

	if (!v)
		return 0;
	bpf_spin_lock(&glock);
	found = bpf_rbtree_first(&v->root) != NULL;
	bpf_spin_unlock(&glock);
	return found;
}

/* H2: an object's tree under a map value's lock. */
SEC("tc")
int obj_first_value_lock(struct __sk_buff *skb)
{
	__u32 k = 0;
	struct tree_val *v = bpf_map_lookup_elem(&trees, &k);
	struct tree_obj *o;
	int found;

	if (!v)
		return 0;
	o = bpf_obj_new(struct tree_obj);
	if (!o)
		return 0;
	bpf_spin_lock(&v->lock);
	found = bpf_rbtree_first(&o->root) != NULL;
	bpf_spin_unlock(&v->lock);
	bpf_obj_drop(o);
	return found;
}

/* H3: less() releases the lock the tree is held under. */
static bool less_unlocks(struct bpf_rb_node *a, const struct bpf_rb_node *b)
{
	bpf_spin_unlock(&glock);
	return container_of(a, struct rnode, node)->key <
	       container_of(b, struct rnode, node)->key;
}

SEC("tc")
int less_unlock(struct __sk_buff *skb)
{
	R_NODE(n);
	bpf_spin_lock(&glock);
	bpf_rbtree_add(&groot, &n->node, less_unlocks);
	bpf_spin_unlock(&glock);
	return 0;
}

/* I1 (not H3): less() takes a lock, another section's; it runs under the tree's lock. */
static bool less_locks(struct bpf_rb_node *a, const struct bpf_rb_node *b)
{
	bool r = container_of(a, struct rnode, node)->key <
		 container_of(b, struct rnode, node)->key;

	bpf_spin_lock(&glock2);
	bpf_spin_unlock(&glock2);
	return r;
}

SEC("tc")
int less_lock(struct __sk_buff *skb)
{
	R_NODE(n);
	bpf_spin_lock(&glock);
	bpf_rbtree_add(&groot, &n->node, less_locks);
	bpf_spin_unlock(&glock);
	return 0;
}
