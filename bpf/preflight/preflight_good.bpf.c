// SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause)
//go:build ignore

/* examples/preflight, the fixed twin of preflight_bad.bpf.c: the same counting body,
 * attached as a BTF-enabled tracepoint (tp_btf, program type TRACING) on the raw
 * sys_enter tracepoint, filtered on write(). TRACING programs may use bpf_spin_lock, so
 * the check finds nothing and the kernel loads it. */
#include <linux/bpf.h>
#include <asm/unistd.h>
#include <bpf/bpf_helpers.h>

char LICENSE[] SEC("license") = "Dual BSD/GPL";

struct stats {
	struct bpf_spin_lock lock;
	__u32 pad;
	__u64 calls;
	__u64 last_ns;
};

struct {
	__uint(type, BPF_MAP_TYPE_HASH);
	__uint(max_entries, 1024);
	__type(key, __u32); /* tgid */
	__type(value, struct stats);
} stats SEC(".maps");

/* sys_enter(struct pt_regs *regs, long id): ctx[1] is the syscall number. */
SEC("tp_btf/sys_enter")
int count_writes(unsigned long long *ctx)
{
	if (ctx[1] != __NR_write)
		return 0;

	__u32 tgid = bpf_get_current_pid_tgid() >> 32;
	__u64 now = bpf_ktime_get_ns();
	struct stats *s = bpf_map_lookup_elem(&stats, &tgid);

	if (!s) {
		struct stats init = {};

		bpf_map_update_elem(&stats, &tgid, &init, BPF_NOEXIST);
		s = bpf_map_lookup_elem(&stats, &tgid);
		if (!s)
			return 0;
	}
	bpf_spin_lock(&s->lock);
	s->calls++;
	s->last_ns = now;
	bpf_spin_unlock(&s->lock);
	return 0;
}
