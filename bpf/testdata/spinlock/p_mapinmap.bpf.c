// SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause)
/* Rule P2 and maps of maps. The kernel judges the maps a program references: a tracepoint
 * that references the lock-holding map itself is refused, but one that reaches the same
 * kind of value through an ARRAY_OF_MAPS is not (6.18 loads it, lock and all). */
#include "slcorpus.h"

char LICENSE[] SEC("license") = "Dual BSD/GPL";

struct inner_map {
	__uint(type, BPF_MAP_TYPE_ARRAY);
	__uint(max_entries, 1);
	__type(key, __u32);
	__type(value, struct locked_val);
} inner SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_ARRAY_OF_MAPS);
	__uint(max_entries, 1);
	__type(key, __u32);
	__array(values, struct inner_map);
} outer SEC(".maps") = {
	.values = { [0] = &inner },
};

#define INNER_LOCK_BODY()                                              \
	do {                                                           \
		__u32 k = 0;                                           \
		void *im = bpf_map_lookup_elem(&outer, &k);            \
		struct locked_val *v;                                  \
		if (!im)                                               \
			return 0;                                      \
		v = bpf_map_lookup_elem(im, &k);                       \
		if (!v)                                                \
			return 0;                                      \
		bpf_spin_lock(&v->lock);                               \
		v->val++;                                              \
		bpf_spin_unlock(&v->lock);                             \
	} while (0)

/* Twin: a tc program locks a value of the inner map. */
SEC("tc")
int tc_inner_lock(void *ctx)
{
	INNER_LOCK_BODY();
	return 0;
}

/* Twin of P2, as the kernel sees it: a tracepoint locks a value of the inner map, reached
 * through the outer map; the kernel only judges the outer map, which holds no lock. */
SEC("tp/syscalls/sys_enter_write")
int tp_inner_lock(void *ctx)
{
	INNER_LOCK_BODY();
	return 0;
}

/* P2: the same tracepoint, referencing the inner map directly. */
SEC("tp/syscalls/sys_enter_write")
int tp_inner_direct(void *ctx)
{
	SL_LOCK_BODY(inner);
	return 0;
}
