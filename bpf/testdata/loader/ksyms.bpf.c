// SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause)
/* Externs libbpf resolves at load, for loader's open tests: a typed __ksym variable
 * (the kernel must know its address: CONFIG_KALLSYMS_ALL), weak typed and untyped ksyms
 * the kernel lacks, an untyped one it has, and kconfig externs, strong and weak. Only
 * the .bss variables are globals a loader sets. */
#include <linux/bpf.h>
#include <bpf/bpf_helpers.h>

char LICENSE[] SEC("license") = "Dual BSD/GPL";

extern const int bpf_prog_active __ksym;		/* typed: a per-CPU int */
extern const int bpfkit_no_such_var __ksym __weak;	/* typed, weak, missing */
extern const void bpf_prog_put __ksym __weak;		/* untyped, present */
extern const void bpfkit_no_such_sym __ksym __weak;	/* untyped, weak, missing */
extern int LINUX_KERNEL_VERSION __kconfig;
extern _Bool CONFIG_BPF_SYSCALL __kconfig;
extern int CONFIG_HZ __kconfig __weak;
extern _Bool CONFIG_BPFKIT_NO_SUCH_OPTION __kconfig __weak;

__u32 target_pid = 0;
__s64 active = -1;
__u64 kver, hz, bpf_syscall, no_such_option, have_put, have_missing, have_missing_var;

SEC("tp/syscalls/sys_enter_getpid")
int typed(void *ctx)
{
	const int *p = bpf_this_cpu_ptr(&bpf_prog_active);

	if ((bpf_get_current_pid_tgid() >> 32) == target_pid)
		active = *p;
	return 0;
}

SEC("tp/syscalls/sys_enter_getppid")
int untyped(void *ctx)
{
	if ((bpf_get_current_pid_tgid() >> 32) != target_pid)
		return 0;
	kver = LINUX_KERNEL_VERSION;
	hz = CONFIG_HZ;
	bpf_syscall = CONFIG_BPF_SYSCALL;
	no_such_option = CONFIG_BPFKIT_NO_SUCH_OPTION;
	have_put = &bpf_prog_put != 0;
	have_missing = &bpfkit_no_such_sym != 0;
	have_missing_var = &bpfkit_no_such_var != 0;
	return 0;
}
