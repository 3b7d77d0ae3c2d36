// SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause)
/* Globals in every data section, for loader's tests: the syscall program copies what
 * it sees into .bss, so a test run shows what the kernel-side program read. */
#include <linux/bpf.h>
#include <bpf/bpf_helpers.h>

char LICENSE[] SEC("license") = "Dual BSD/GPL";

struct config {
	__u32 a;
	__u16 b;
	__u8 c[6];
	__u64 d;
};

__u64 counter = 0;				/* .bss */
__s32 level = 7;				/* .data */
const volatile __u32 limit = 10;		/* .rodata */
const volatile struct config cfg = { .a = 1 };	/* .rodata */
__u32 custom SEC(".data.custom") = 3;		/* a named .data sub-section */

__u64 seen_limit = 0;				/* .bss: what the program read */
__u64 seen_sum = 0;

SEC("syscall")
int snapshot(void *ctx)
{
	counter++;
	seen_limit = limit;
	seen_sum = cfg.d + cfg.a + cfg.b + cfg.c[5] + level + custom;
	return 0;
}
