// SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause)
/* Rule G3 (M5 for global data): two locks in one DATASEC (.bss). */
#include "slcorpus.h"

char LICENSE[] SEC("license") = "Dual BSD/GPL";

struct bpf_spin_lock lock1;
struct bpf_spin_lock lock2;
__u64 count1;

/* G3: lock one of two locks that share .bss. */
SEC("tc")
int g3_two_in_bss(void *ctx)
{
	bpf_spin_lock(&lock1);
	count1++;
	bpf_spin_unlock(&lock1);
	return 0;
}
