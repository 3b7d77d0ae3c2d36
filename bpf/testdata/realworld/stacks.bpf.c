// SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause)
/* A stack-trace map as bcc's libbpf-tools declare it (offcputime, memleak, profile …):
 * only its key size. The tool sets the value size (frames × 8) and the number of stacks
 * from its command line before load; loaded as it is, the kernel refuses the map. The
 * tracepoint counts the kernel stacks of one process's getppid() calls. */
#include <linux/bpf.h>
#include <bpf/bpf_helpers.h>

char LICENSE[] SEC("license") = "Dual BSD/GPL";

struct {
	__uint(type, BPF_MAP_TYPE_STACK_TRACE);
	__uint(key_size, sizeof(__u32));
} stackmap SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_HASH);
	__uint(max_entries, 1024);
	__type(key, __u32);	/* stack id */
	__type(value, __u64);	/* calls */
} counts SEC(".maps");

const volatile __u32 targ_tgid = 0;

SEC("tp/syscalls/sys_enter_getppid")
int count_stack(void *ctx)
{
	if ((__u32)(bpf_get_current_pid_tgid() >> 32) != targ_tgid)
		return 0;
	__s64 id = bpf_get_stackid(ctx, &stackmap, 0);
	if (id < 0)
		return 0;
	__u32 key = id;
	__u64 one = 1, *n = bpf_map_lookup_elem(&counts, &key);
	if (n)
		__sync_fetch_and_add(n, 1);
	else
		bpf_map_update_elem(&counts, &key, &one, BPF_NOEXIST);
	return 0;
}
