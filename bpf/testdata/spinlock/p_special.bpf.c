// SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause)
/* Rules P4, P5, P6: tracing programs against values that hold a bpf_timer, a bpf_wq, or a
 * bpf_list_head (which needs a bpf_spin_lock beside it). Each bad program only looks the
 * map up: the kernel rejects the reference. The twins are the same body as tc programs. */
#include "slcorpus.h"

char LICENSE[] SEC("license") = "Dual BSD/GPL";

#define __contains(name, node) __attribute__((btf_decl_tag("contains:" #name ":" #node)))

struct timer_val {
	struct bpf_timer t;
	__u64 val;
};

struct wq_val {
	struct bpf_wq w;
	__u64 val;
};

struct elem {
	__u64 v;
	struct bpf_list_node node;
};

struct list_val {
	struct bpf_spin_lock lock;
	struct bpf_list_head head __contains(elem, node);
	__u64 val;
};

/* The kernel resolves "contains:elem:node" by name in the object's BTF: clang emits
 * struct elem only when something uses it, so a pointer to it is kept here. Without it the
 * kernel refuses the whole BTF (-ENOENT), libbpf drops BTF and no lock is seen at all. */
struct elem *elem_anchor;

SL_ARRAY(timers, struct timer_val);
SL_ARRAY(wqs, struct wq_val);
SL_ARRAY(lists, struct list_val);

#define LOOKUP_VAL(map, type)                                  \
	do {                                                   \
		__u32 _k = 0;                                  \
		type *_v = bpf_map_lookup_elem(&(map), &_k);   \
		if (!_v)                                       \
			return 0;                              \
		return _v->val;                                \
	} while (0)

/* P4: a tracepoint referencing a value with a bpf_timer. */
SEC("tp/syscalls/sys_enter_write")
int tp_timer(void *ctx)
{
	LOOKUP_VAL(timers, struct timer_val);
}

/* P4 twin. */
SEC("tc")
int tc_timer(void *ctx)
{
	LOOKUP_VAL(timers, struct timer_val);
}

/* P5: a tracepoint referencing a value with a bpf_wq. */
SEC("tp/syscalls/sys_enter_write")
int tp_wq(void *ctx)
{
	LOOKUP_VAL(wqs, struct wq_val);
}

/* P5 twin. */
SEC("tc")
int tc_wq(void *ctx)
{
	LOOKUP_VAL(wqs, struct wq_val);
}

/* P6 (and P2: the value holds a lock too): a tracepoint referencing a bpf_list_head. */
SEC("tp/syscalls/sys_enter_write")
int tp_list(void *ctx)
{
	LOOKUP_VAL(lists, struct list_val);
}

/* P6 twin. */
SEC("tc")
int tc_list(void *ctx)
{
	LOOKUP_VAL(lists, struct list_val);
}
