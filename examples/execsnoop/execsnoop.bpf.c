// SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause)
//go:build ignore

/* execsnoop: one event per execve(2) on a ring buffer, for the children of one process
 * (targ_ppid, 0 for all). The skeleton is generated from this file by the go:generate
 * line of main.go: bpfkit gen compiles it into execsnoop.bpf.o and writes
 * execsnoop.skel.go, where the ring buffer is a *maps.RingBuf[Event]. The parent's PID
 * is read with CO-RE from a struct task_struct declared with only the members used:
 * libbpf relocates their offsets against the running kernel's BTF. */
#include <linux/bpf.h>
#include <bpf/bpf_helpers.h>
#include <bpf/bpf_core_read.h>

char LICENSE[] SEC("license") = "Dual BSD/GPL";

struct event {
	__u32 pid;
	__u32 ppid;
	char comm[16];
	char filename[128];
};

/* The program reaches struct event only through bpf_ringbuf_reserve's pointer, which
 * leaves it out of BTF: this global keeps it there, for gen -type events=event. */
struct event *unused_event __attribute__((unused));

struct {
	__uint(type, BPF_MAP_TYPE_RINGBUF);
	__uint(max_entries, 256 * 1024);
} events SEC(".maps");

const volatile __u32 targ_ppid = 0;

struct task_struct {
	int tgid;
	struct task_struct *real_parent;
} __attribute__((preserve_access_index));

/* the tracepoint's context: struct trace_event_raw_sys_enter */
struct sys_enter {
	__u64 common;
	long id;
	unsigned long args[6];
};

SEC("tp/syscalls/sys_enter_execve")
int handle_execve(struct sys_enter *ctx)
{
	struct task_struct *task = (void *)bpf_get_current_task();
	__u32 ppid = BPF_CORE_READ(task, real_parent, tgid);
	struct event *e;

	if (targ_ppid && ppid != targ_ppid)
		return 0;
	e = bpf_ringbuf_reserve(&events, sizeof(*e), 0);
	if (!e)
		return 0;
	e->pid = bpf_get_current_pid_tgid() >> 32;
	e->ppid = ppid;
	bpf_get_current_comm(e->comm, sizeof(e->comm));
	bpf_probe_read_user_str(e->filename, sizeof(e->filename), (const char *)ctx->args[0]);
	bpf_ringbuf_submit(e, 0);
	return 0;
}
