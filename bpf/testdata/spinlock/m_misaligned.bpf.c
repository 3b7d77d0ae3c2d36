// SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause)
/* Rule M6, a lock at an offset not divisible by 4. On 6.18 the kernel refuses the object's
 * BTF when it is loaded (-EFAULT), libbpf drops the BTF of the whole object and the program
 * fails with M1's words ("has to have BTF"), not with "has no valid bpf_spin_lock". */
#include "slcorpus.h"

char LICENSE[] SEC("license") = "Dual BSD/GPL";

struct misaligned_val {
	__u16 pad;
	struct bpf_spin_lock lock;
	__u16 val;
} __attribute__((packed));

SL_ARRAY(misaligned, struct misaligned_val);

/* M6: lock the lock at offset 2. */
SEC("tc")
int misaligned_lock(void *ctx)
{
	__u32 k = 0;
	struct misaligned_val *v = bpf_map_lookup_elem(&misaligned, &k);
	struct bpf_spin_lock *l;

	if (!v)
		return 0;
	l = (struct bpf_spin_lock *)((char *)v + __builtin_offsetof(struct misaligned_val, lock));
	bpf_spin_lock(l);
	bpf_spin_unlock(l);
	return 0;
}
