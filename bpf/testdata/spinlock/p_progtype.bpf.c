// SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause)
/* Rules P1, P2 (and P3's absence on 6.6+): the program type against a map whose value
 * holds a bpf_spin_lock. Every program here is loaded alone by the differential test.
 * The "bad" programs and their twins share one body; only the section (the program type)
 * or the map changes. */
#include "slcorpus.h"

char LICENSE[] SEC("license") = "Dual BSD/GPL";

SL_ARRAY(locked, struct locked_val);
SL_ARRAY(plain, struct plain_val);

/* P1: a socket filter that locks. */
SEC("socket")
int socket_lock(void *ctx)
{
	SL_LOCK_BODY(locked);
	return 0;
}

/* P1 twin: the same socket filter on a lock-free value. */
SEC("socket")
int socket_plain(void *ctx)
{
	SL_PLAIN_BODY(plain);
	return 0;
}

/* P1 twin: the same locking body as a tc classifier (SCHED_CLS may lock). */
SEC("tc")
int tc_lock(void *ctx)
{
	SL_LOCK_BODY(locked);
	return 0;
}

/* P2: a tracepoint that locks. */
SEC("tp/syscalls/sys_enter_write")
int tp_lock(void *ctx)
{
	SL_LOCK_BODY(locked);
	return 0;
}

/* P2: a tracepoint that only looks the lock-holding map up and never locks: the kernel
 * judges the map reference, not the lock call. */
SEC("tp/syscalls/sys_enter_write")
int tp_lookup_only(void *ctx)
{
	__u32 k = 0;
	struct locked_val *v = bpf_map_lookup_elem(&locked, &k);

	if (!v)
		return 0;
	return v->val;
}

/* P2 twin: the same tracepoint on a lock-free value. */
SEC("tp/syscalls/sys_enter_write")
int tp_plain(void *ctx)
{
	SL_PLAIN_BODY(plain);
	return 0;
}

/* P2: raw tracepoint. */
SEC("raw_tp/sys_enter")
int raw_tp_lock(void *ctx)
{
	SL_LOCK_BODY(locked);
	return 0;
}

/* P2: writable raw tracepoint. */
SEC("raw_tp.w/bpf_test_finish")
int raw_tp_w_lock(void *ctx)
{
	SL_LOCK_BODY(locked);
	return 0;
}

/* P2: perf event. */
SEC("perf_event")
int perf_lock(void *ctx)
{
	SL_LOCK_BODY(locked);
	return 0;
}

/* P2: uprobe (program type KPROBE). */
SEC("uprobe")
int uprobe_lock(void *ctx)
{
	SL_LOCK_BODY(locked);
	return 0;
}

/* P2: kprobe (KPROBE; loads even where CONFIG_KPROBES is off, attaching would fail). */
SEC("kprobe/do_nanosleep")
int kprobe_lock(void *ctx)
{
	SL_LOCK_BODY(locked);
	return 0;
}

/* P2 (and P3 on 6.1-6.5): a sleepable uprobe is still KPROBE. */
SEC("uprobe.s")
int uprobe_s_lock(void *ctx)
{
	SL_LOCK_BODY(locked);
	return 0;
}

/* P2 twin: tp_btf is BPF_PROG_TYPE_TRACING, which may lock. */
SEC("tp_btf/sys_enter")
int tp_btf_lock(void *ctx)
{
	SL_LOCK_BODY(locked);
	return 0;
}

/* P2 twin: iter is BPF_PROG_TYPE_TRACING too. */
SEC("iter/task")
int iter_lock(void *ctx)
{
	SL_LOCK_BODY(locked);
	return 0;
}

/* P3 twin: a sleepable SYSCALL program locks; allowed since 6.6. */
SEC("syscall")
int syscall_lock(void *ctx)
{
	SL_LOCK_BODY(locked);
	return 0;
}

/* Allowed types, for the record. */
SEC("xdp")
int xdp_lock(void *ctx)
{
	SL_LOCK_BODY(locked);
	return 0;
}

SEC("cgroup_skb/ingress")
int cgroup_skb_lock(void *ctx)
{
	SL_LOCK_BODY(locked);
	return 0;
}

SEC("sk_msg")
int sk_msg_lock(void *ctx)
{
	SL_LOCK_BODY(locked);
	return 0;
}

SEC("sockops")
int sockops_lock(void *ctx)
{
	SL_LOCK_BODY(locked);
	return 0;
}

SEC("flow_dissector")
int flow_dissector_lock(void *ctx)
{
	SL_LOCK_BODY(locked);
	return 0;
}
