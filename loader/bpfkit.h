/* SPDX-License-Identifier: Apache-2.0 */
#ifndef BPFKIT_LOADER_H
#define BPFKIT_LOADER_H
#include <stddef.h>
#include <bpf/libbpf.h>

// Only what Go cannot do itself: libbpf's option structs (LIBBPF_OPTS), errno after a
// call that returns NULL, and the variadic print callback.

void bk_set_print(void);
struct bpf_object *bk_open(const void *buf, size_t size, const char *name, const char *btf_path,
			   const char *pin_root, unsigned int log_level, long *err);
long bk_attach(struct bpf_program *p, struct bpf_link **out);
long bk_attach_tracepoint(struct bpf_program *p, const char *cat, const char *name,
			  unsigned long long cookie, struct bpf_link **out);
long bk_attach_raw_tracepoint(struct bpf_program *p, const char *name, struct bpf_link **out);
long bk_attach_cgroup(struct bpf_program *p, int cgroup_fd, struct bpf_link **out);
long bk_attach_perf_event(struct bpf_program *p, int pfd, unsigned long long cookie, struct bpf_link **out);
long bk_attach_kprobe(struct bpf_program *p, const char *sym, unsigned long offset, int retprobe,
		      unsigned long long cookie, struct bpf_link **out);
long bk_attach_uprobe(struct bpf_program *p, int retprobe, int pid, const char *binary,
		      unsigned long offset, unsigned long ref_ctr_offset, unsigned long long cookie,
		      struct bpf_link **out);

#endif
