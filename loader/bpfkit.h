// SPDX-License-Identifier: Apache-2.0
#ifndef BPFKIT_LOADER_H
#define BPFKIT_LOADER_H
#include <bpf/libbpf.h>

long bk_attach(struct bpf_program *p, struct bpf_link **out);
long bk_attach_tracepoint(struct bpf_program *p, const char *cat, const char *name, struct bpf_link **out);
long bk_attach_raw_tracepoint(struct bpf_program *p, const char *name, struct bpf_link **out);
long bk_attach_cgroup(struct bpf_program *p, int cgroup_fd, struct bpf_link **out);
long bk_attach_perf_event(struct bpf_program *p, int pfd, struct bpf_link **out);
long bk_attach_kprobe(struct bpf_program *p, int retprobe, const char *sym, struct bpf_link **out);
long bk_attach_uprobe(struct bpf_program *p, int retprobe, int pid, const char *binary,
		      const char *func, unsigned long offset, struct bpf_link **out);
int bk_link_create(int prog_fd, int ifindex, unsigned int attach_type, unsigned int flags);

#endif
