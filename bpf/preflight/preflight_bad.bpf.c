// SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause)
//go:build ignore

/* examples/preflight, the version bpfkit's check stops before load: a tracepoint counts
 * each process's write() calls and the time of its last one in a hash map whose values
 * hold a bpf_spin_lock, so that user space reads both as one consistent pair. The kernel
 * refuses every tracepoint that references such a map (rule P2: "tracing progs cannot
 * use bpf_spin_lock yet"), even before it looks at what the program does. */
#include <linux/bpf.h>
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

SEC("tp/syscalls/sys_enter_write")
int count_writes(void *ctx)
{
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
