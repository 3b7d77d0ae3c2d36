// SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause)
/* Kernel symbols as sched_ext schedulers use them: a typed __ksym (a per-CPU variable
 * of the kernel, typed by the kernel's BTF), a weak typed one no kernel has, and an
 * untyped one (a function's address, from kallsyms). Typed ksyms of data need
 * CONFIG_KALLSYMS_ALL in the kernel that loads them. */
#include <linux/bpf.h>
#include <bpf/bpf_helpers.h>

char LICENSE[] SEC("license") = "Dual BSD/GPL";

extern const int bpf_prog_active __ksym;
extern const int bpfkit_no_such_percpu __ksym __weak;
extern const void bpf_prog_put __ksym;

__s64 seen_active = -1;
__u64 seen_weak = 1, seen_untyped;

SEC("syscall")
int read_ksyms(void *ctx)
{
	const int *active = bpf_this_cpu_ptr(&bpf_prog_active);

	seen_active = *active;
	seen_weak = bpf_ksym_exists(&bpfkit_no_such_percpu);
	seen_untyped = (__u64)&bpf_prog_put;
	return 0;
}
