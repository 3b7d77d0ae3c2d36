/* SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause) */
/* The newer lock homes and kinds of the spin-lock corpus (bpf/testdata/spinlock): locks in
 * allocated objects (bpf_obj_new, 6.2+; kptrs through bpf_kptr_xchg), graph objects
 * guarded by a lock (bpf_list_head 6.2+, bpf_rb_root 6.3+) and the resilient lock
 * (bpf_res_spin_lock, 6.15+).
 *
 * linux/bpf.h from linux-libc-dev 6.12 has no struct bpf_res_spin_lock (the kernel keeps it
 * in asm-generic/rqspinlock.h, not in its uapi), and libbpf 1.4 declares none of these
 * kfuncs: both are declared here. The kernel matches the lock and every kfunc by name in
 * the object's BTF, and their shapes follow this kernel's BTF (/sys/kernel/btf/vmlinux,
 * 6.18). */
#ifndef SLKINDS_H
#define SLKINDS_H

#include "slcorpus.h"
#include <stdbool.h>
#include <bpf/bpf_core_read.h>

/* The resilient lock: one 32-bit word, 4-byte aligned, like bpf_spin_lock. */
struct bpf_res_spin_lock {
	__u32 val;
};

/* A bpf_list_head or bpf_rb_root holding nodes of type `name` linked through its member
 * `node`. */
#define __contains(name, node) __attribute__((btf_decl_tag("contains:" #name ":" #node)))

/* A kptr field of a map value. clang < 15 drops the btf_type_tag, and the kernel then
 * sees a plain pointer: objects that use it are built with a newer clang (Makefile). */
#define __kptr __attribute__((btf_type_tag("kptr")))

/* private(X): a global in its own DATASEC ".data.X", so that a lock and the head it guards
 * share a section and every other lock is alone in its own (rule G3). */
#define private(name) SEC(".data." #name) __hidden __attribute__((aligned(8)))

/* Allocated objects. Every kfunc is declared __weak: on a kernel that lacks one, libbpf
 * leaves only the programs that call it unloadable, not the whole object. */
extern void *bpf_obj_new_impl(__u64 local_type_id, void *meta) __ksym __weak;
extern void bpf_obj_drop_impl(void *kptr, void *meta) __ksym __weak;
#define bpf_obj_new(type) ((type *)bpf_obj_new_impl(bpf_core_type_id_local(type), NULL))
#define bpf_obj_drop(kptr) bpf_obj_drop_impl(kptr, NULL)

/* Lists (6.2+; front/back 6.15+). */
extern int bpf_list_push_front_impl(struct bpf_list_head *head, struct bpf_list_node *node,
				    void *meta, __u64 off) __ksym __weak;
extern int bpf_list_push_back_impl(struct bpf_list_head *head, struct bpf_list_node *node,
				   void *meta, __u64 off) __ksym __weak;
#define bpf_list_push_front(head, node) bpf_list_push_front_impl(head, node, NULL, 0)
#define bpf_list_push_back(head, node) bpf_list_push_back_impl(head, node, NULL, 0)
extern struct bpf_list_node *bpf_list_pop_front(struct bpf_list_head *head) __ksym __weak;
extern struct bpf_list_node *bpf_list_pop_back(struct bpf_list_head *head) __ksym __weak;
extern struct bpf_list_node *bpf_list_front(struct bpf_list_head *head) __ksym __weak;
extern struct bpf_list_node *bpf_list_back(struct bpf_list_head *head) __ksym __weak;

/* Red-black trees (6.3+; root/left/right 6.16+). */
extern int bpf_rbtree_add_impl(struct bpf_rb_root *root, struct bpf_rb_node *node,
			       bool (less)(struct bpf_rb_node *a, const struct bpf_rb_node *b),
			       void *meta, __u64 off) __ksym __weak;
#define bpf_rbtree_add(root, node, less) bpf_rbtree_add_impl(root, node, less, NULL, 0)
extern struct bpf_rb_node *bpf_rbtree_first(struct bpf_rb_root *root) __ksym __weak;
extern struct bpf_rb_node *bpf_rbtree_remove(struct bpf_rb_root *root, struct bpf_rb_node *node) __ksym __weak;
extern struct bpf_rb_node *bpf_rbtree_root(struct bpf_rb_root *root) __ksym __weak;
extern struct bpf_rb_node *bpf_rbtree_left(struct bpf_rb_root *root, struct bpf_rb_node *node) __ksym __weak;
extern struct bpf_rb_node *bpf_rbtree_right(struct bpf_rb_root *root, struct bpf_rb_node *node) __ksym __weak;

/* The resilient lock (6.15+): 0 when taken, an error (-EDEADLK, -ETIMEDOUT) when not. */
extern int bpf_res_spin_lock(struct bpf_res_spin_lock *lock) __ksym __weak;
extern void bpf_res_spin_unlock(struct bpf_res_spin_lock *lock) __ksym __weak;
extern int bpf_res_spin_lock_irqsave(struct bpf_res_spin_lock *lock, unsigned long *flags__irq_flag) __ksym __weak;
extern void bpf_res_spin_unlock_irqrestore(struct bpf_res_spin_lock *lock, unsigned long *flags__irq_flag) __ksym __weak;

/* A value with a resilient lock. */
struct res_val {
	struct bpf_res_spin_lock lock;
	__u32 val;
};

#endif
