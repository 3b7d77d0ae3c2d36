/* SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause) */
/* Shared pieces of the spin-lock corpus (bpf/testdata/spinlock): the lock-holding value,
 * the maps most programs use, and the lock/unlock body, so that a program and its
 * near-twin differ only in the one thing the rule is about. */
#ifndef SLCORPUS_H
#define SLCORPUS_H

#include <linux/bpf.h>
#include <bpf/bpf_helpers.h>

/* A value that holds a lock, as the kernel wants it: one lock, 4-byte aligned. */
struct locked_val {
	struct bpf_spin_lock lock;
	__u32 val;
};

/* The same value without a lock: the twins that use it must load everywhere. */
struct plain_val {
	__u32 pad;
	__u32 val;
};

/* SL_ARRAY(name, value type): a one-element BTF-defined array map. */
#define SL_ARRAY(name, vtype)                   \
	struct {                                \
		__uint(type, BPF_MAP_TYPE_ARRAY); \
		__uint(max_entries, 1);         \
		__type(key, __u32);             \
		__type(value, vtype);           \
	} name SEC(".maps")

/* SL_LOCK_BODY(map): look element 0 up, take its lock, bump val, release. */
#define SL_LOCK_BODY(map)                                      \
	do {                                                   \
		__u32 _k = 0;                                  \
		struct locked_val *_v;                         \
		_v = bpf_map_lookup_elem(&(map), &_k);         \
		if (!_v)                                       \
			return 0;                              \
		bpf_spin_lock(&_v->lock);                      \
		_v->val++;                                     \
		bpf_spin_unlock(&_v->lock);                    \
	} while (0)

/* SL_PLAIN_BODY(map): the same without a lock, an atomic add instead. */
#define SL_PLAIN_BODY(map)                                     \
	do {                                                   \
		__u32 _k = 0;                                  \
		struct plain_val *_v;                          \
		_v = bpf_map_lookup_elem(&(map), &_k);         \
		if (!_v)                                       \
			return 0;                              \
		__sync_fetch_and_add(&_v->val, 1);             \
	} while (0)

#endif
