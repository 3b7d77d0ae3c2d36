// SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause)
/* Sections whose Go mirror needs care, for loader's section tests: a .bss of 12 bytes
 * (a Go struct holding a uint64 is 16: "datasec slack") and a .data.big that spans two
 * pages. The syscall program bump touches both, so a test run shows what it saw. */
#include <linux/bpf.h>
#include <bpf/bpf_helpers.h>

char LICENSE[] SEC("license") = "Dual BSD/GPL";

__u64 hits = 0;					/* .bss: 8 bytes */
__u32 last = 0;					/* .bss: 12 bytes in all */

__u64 big_head SEC(".data.big") = 1;		/* .data.big: offset 0 */
__u8 big_buf[5000] SEC(".data.big") = { 1 };	/* offset 8 */
__u64 big_tail SEC(".data.big") = 2;		/* offset 5008, in the second page */

SEC("syscall")
int bump(void *ctx)
{
	hits++;
	last = (__u32)big_head + big_buf[4999];
	big_tail++;
	return 0;
}
