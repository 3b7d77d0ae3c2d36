// SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause)
/* Rule M5, two locks in one value. On 6.18 the kernel parses every struct of the object's
 * BTF when the BTF is loaded (btf_parse_struct_metas) and refuses the BTF with -E2BIG when
 * a struct holds two bpf_spin_locks. libbpf then drops the BTF of the whole object ("BTF is
 * optional, ignoring"), every map is created without BTF, and every program that locks
 * fails with M1's words: even bystander_lock, whose own value is correct. */
#include "slcorpus.h"

char LICENSE[] SEC("license") = "Dual BSD/GPL";

struct two_locks_val {
	struct bpf_spin_lock lock;
	struct bpf_spin_lock lock2;
	__u32 val;
};

SL_ARRAY(two_locks, struct two_locks_val);
SL_ARRAY(one_lock, struct locked_val);

/* M5: lock the first of the two locks. */
SEC("tc")
int two_locks_lock(void *ctx)
{
	__u32 k = 0;
	struct two_locks_val *v = bpf_map_lookup_elem(&two_locks, &k);

	if (!v)
		return 0;
	bpf_spin_lock(&v->lock);
	v->val++;
	bpf_spin_unlock(&v->lock);
	return 0;
}

/* M5 (through the object): a correct one-lock value, in an object whose BTF was refused. */
SEC("tc")
int bystander_lock(void *ctx)
{
	SL_LOCK_BODY(one_lock);
	return 0;
}
