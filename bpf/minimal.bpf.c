// SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause)
//go:build ignore

/* bpfkit's first example: a tracepoint on write(2) that prints a line through
 * bpf_printk, only for the process whose PID user space stores in my_pid before it loads
 * the object (SetGlobal("my_pid", …), or skel.BSS.MyPid; 0 matches no process). */
#include <linux/bpf.h>
#include <bpf/bpf_helpers.h>

char LICENSE[] SEC("license") = "Dual BSD/GPL";

int my_pid;

SEC("tp/syscalls/sys_enter_write")
int handle_tp(void *ctx)
{
	__u32 tgid = bpf_get_current_pid_tgid() >> 32;

	if ((int)tgid == my_pid)
		bpf_printk("BPF triggered from PID %d.\n", tgid);
	return 0;
}
