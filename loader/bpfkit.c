// SPDX-License-Identifier: Apache-2.0
// C helpers of package loader: the libbpf calls libbpfgo does not wrap. Each returns a
// negative errno on failure, so that Go never has to read errno.
#include <errno.h>
#include <bpf/libbpf.h>
#include <bpf/bpf.h>
#include "bpfkit.h"

// libbpf ≥ 1.0 returns NULL and sets errno when an attach fails.
#define LINK_OR_ERRNO(expr)                         \
	do {                                        \
		struct bpf_link *l = (expr);        \
		if (!l)                             \
			return -errno;              \
		*out = l;                           \
		return 0;                           \
	} while (0)

long bk_attach(struct bpf_program *p, struct bpf_link **out) {
	LINK_OR_ERRNO(bpf_program__attach(p));
}

long bk_attach_tracepoint(struct bpf_program *p, const char *cat, const char *name, struct bpf_link **out) {
	LINK_OR_ERRNO(bpf_program__attach_tracepoint(p, cat, name));
}

long bk_attach_raw_tracepoint(struct bpf_program *p, const char *name, struct bpf_link **out) {
	LINK_OR_ERRNO(bpf_program__attach_raw_tracepoint(p, name));
}

long bk_attach_cgroup(struct bpf_program *p, int cgroup_fd, struct bpf_link **out) {
	LINK_OR_ERRNO(bpf_program__attach_cgroup(p, cgroup_fd));
}

long bk_attach_perf_event(struct bpf_program *p, int pfd, struct bpf_link **out) {
	LINK_OR_ERRNO(bpf_program__attach_perf_event(p, pfd));
}

long bk_attach_kprobe(struct bpf_program *p, int retprobe, const char *sym, struct bpf_link **out) {
	LINK_OR_ERRNO(bpf_program__attach_kprobe(p, retprobe, sym));
}

long bk_attach_uprobe(struct bpf_program *p, int retprobe, int pid, const char *binary,
			     const char *func, unsigned long offset, struct bpf_link **out) {
	LIBBPF_OPTS(bpf_uprobe_opts, opts, .retprobe = retprobe, .func_name = func);
	LINK_OR_ERRNO(bpf_program__attach_uprobe_opts(p, pid, binary, offset, &opts));
}

// A bare BPF link to an interface (XDP with mode flags, tcx in either direction), for
// attach points whose libbpf wrappers take no flags or derive the direction from the
// section. Returns the link fd or a negative errno.
int bk_link_create(int prog_fd, int ifindex, unsigned int attach_type, unsigned int flags) {
	LIBBPF_OPTS(bpf_link_create_opts, opts, .flags = flags);
	int fd = bpf_link_create(prog_fd, ifindex, attach_type, &opts);
	return fd < 0 ? -errno : fd;
}


