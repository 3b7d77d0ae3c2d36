// SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause)
/* Programs that record the cookie they were attached with (bpf_get_attach_cookie), for
 * loader's tests of the attach options. */
#include <linux/bpf.h>
#include <bpf/bpf_helpers.h>

char LICENSE[] SEC("license") = "Dual BSD/GPL";

__u64 cookies[3] = {};
__u32 target_pid = 0;

static __always_inline int mine(void)
{
	return (bpf_get_current_pid_tgid() >> 32) == target_pid;
}

SEC("uprobe")
int cookie_uprobe(void *ctx)
{
	if (mine())
		cookies[0] = bpf_get_attach_cookie(ctx);
	return 0;
}

SEC("tp/syscalls/sys_enter_getppid")
int cookie_tp(void *ctx)
{
	if (mine())
		cookies[1] = bpf_get_attach_cookie(ctx);
	return 0;
}

SEC("raw_tp/sys_enter")
int cookie_raw_tp(void *ctx)
{
	if (mine())
		cookies[2] = bpf_get_attach_cookie(ctx);
	return 0;
}
