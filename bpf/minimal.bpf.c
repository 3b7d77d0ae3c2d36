// SPDX-License-Identifier: GPL-2.0 OR BSD-3-Clause
// Copyright (c) 2020 Facebook
//go:build ignore

/* libbpf's "minimal" example, as it stands in libbpf-bootstrap (examples/c/minimal.bpf.c),
 * under its licence and copyright: a tracepoint on write() that reacts only to the PID
 * user space stores in my_pid before load. */
#include <linux/bpf.h>
#include <bpf/bpf_helpers.h>

char LICENSE[] SEC("license") = "Dual BSD/GPL";

int my_pid = 0;

SEC("tp/syscalls/sys_enter_write")
int handle_tp(void *ctx)
{
	int pid = bpf_get_current_pid_tgid() >> 32;

	if (pid != my_pid)
		return 0;

	bpf_printk("BPF triggered from PID %d.\n", pid);

	return 0;
}
