// SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause)
/* Attach types this VM's kernel refuses (no CONFIG_KPROBES; trampolines give EPERM):
 * their tests must compile and skip here with the reason. */
#include <linux/bpf.h>
#include <bpf/bpf_helpers.h>

char LICENSE[] SEC("license") = "Dual BSD/GPL";

SEC("kprobe/do_nanosleep")
int on_kprobe(void *ctx)
{
	return 0;
}
