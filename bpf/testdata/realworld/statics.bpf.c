// SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause)
/* Globals shaped like real tools': static variables between the ones a skeleton shows
 * (sched_ext schedulers: the Go struct and the section once disagreed on every offset
 * after the first static), bpf_printk in a static function (its format string is a
 * static of .rodata: bcc's libbpf-tools), a static counter the program keeps in .bss,
 * and kconfig externs, one of them weak and missing from every kernel. The syscall
 * program reports in .bss what it saw, so a test run shows what the kernel read. */
#include <linux/bpf.h>
#include <bpf/bpf_helpers.h>

char LICENSE[] SEC("license") = "Dual BSD/GPL";

/* .rodata: shown, static, shown */
const volatile __u32 min_len = 1;
static const volatile __u64 salt = 0x5eed;
const volatile __u32 max_len = 100;

/* .data: shown, static, shown */
__u64 first = 11;
static __u64 hidden = 22;
__u32 last = 33;

/* .bss: the program's own count, between two shown variables */
__u64 calls;
static __u64 own_calls;
__u64 seen_salt, seen_hidden, seen_own_calls, seen_last;
__s64 seen_kernel, seen_weak;

extern int LINUX_KERNEL_VERSION __kconfig;
extern int CONFIG_BPFKIT_NO_SUCH_OPTION __kconfig __weak;

static __attribute__((noinline)) int note(__u64 n)
{
	bpf_printk("statics: call %llu", n);
	return 0;
}

SEC("syscall")
int probe(void *ctx)
{
	calls++;
	own_calls++;
	hidden++;
	seen_salt = salt;
	seen_hidden = hidden;
	seen_own_calls = own_calls;
	seen_last = last;
	seen_kernel = LINUX_KERNEL_VERSION;
	seen_weak = CONFIG_BPFKIT_NO_SUCH_OPTION;
	note(calls);
	return min_len + max_len + first;
}
