// SPDX-License-Identifier: Apache-2.0
// C helpers of package loader (see bpfkit.h). Each returns a negative errno on failure,
// so that Go never has to read errno.
#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <bpf/libbpf.h>
#include "bpfkit.h"
#include "_cgo_export.h"

// bk_print formats one libbpf message and hands it to Go (bkLibbpfPrint, log.go). A
// message may be a whole verifier log of megabytes: the buffer is sized for it.
static int bk_print(enum libbpf_print_level level, const char *fmt, va_list ap)
{
	char small[512];
	va_list ap2;
	va_copy(ap2, ap);
	int n = vsnprintf(small, sizeof(small), fmt, ap);
	if (n < 0) {
		va_end(ap2);
		return 0;
	}
	if ((size_t)n < sizeof(small)) {
		bkLibbpfPrint((int)level, small, n);
		va_end(ap2);
		return 0;
	}
	char *big = malloc((size_t)n + 1);
	if (big) {
		vsnprintf(big, (size_t)n + 1, fmt, ap2);
		bkLibbpfPrint((int)level, big, n);
		free(big);
	}
	va_end(ap2);
	return 0;
}

void bk_set_print(void)
{
	libbpf_set_print(bk_print);
}

struct bpf_object *bk_open(const void *buf, size_t size, const char *name, const char *btf_path,
			   const char *pin_root, unsigned int log_level, long *err)
{
	LIBBPF_OPTS(bpf_object_open_opts, opts, .object_name = name, .btf_custom_path = btf_path,
		    .pin_root_path = pin_root, .kernel_log_level = log_level);
	struct bpf_object *obj = bpf_object__open_mem(buf, size, &opts);
	*err = obj ? 0 : -errno;
	return obj;
}

// libbpf ≥ 1.0 returns NULL and sets errno when an attach fails.
#define LINK_OR_ERRNO(expr)                         \
	do {                                        \
		struct bpf_link *l = (expr);        \
		if (!l)                             \
			return -errno;              \
		*out = l;                           \
		return 0;                           \
	} while (0)

long bk_attach(struct bpf_program *p, struct bpf_link **out)
{
	LINK_OR_ERRNO(bpf_program__attach(p));
}

long bk_attach_tracepoint(struct bpf_program *p, const char *cat, const char *name,
			  unsigned long long cookie, struct bpf_link **out)
{
	LIBBPF_OPTS(bpf_tracepoint_opts, opts, .bpf_cookie = cookie);
	LINK_OR_ERRNO(bpf_program__attach_tracepoint_opts(p, cat, name, &opts));
}

long bk_attach_raw_tracepoint(struct bpf_program *p, const char *name, struct bpf_link **out)
{
	LINK_OR_ERRNO(bpf_program__attach_raw_tracepoint(p, name));
}

long bk_attach_cgroup(struct bpf_program *p, int cgroup_fd, struct bpf_link **out)
{
	LINK_OR_ERRNO(bpf_program__attach_cgroup(p, cgroup_fd));
}

long bk_attach_perf_event(struct bpf_program *p, int pfd, unsigned long long cookie, struct bpf_link **out)
{
	LIBBPF_OPTS(bpf_perf_event_opts, opts, .bpf_cookie = cookie);
	LINK_OR_ERRNO(bpf_program__attach_perf_event_opts(p, pfd, &opts));
}

long bk_attach_kprobe(struct bpf_program *p, const char *sym, unsigned long offset, int retprobe,
		      unsigned long long cookie, struct bpf_link **out)
{
	LIBBPF_OPTS(bpf_kprobe_opts, opts, .bpf_cookie = cookie, .offset = offset, .retprobe = retprobe);
	LINK_OR_ERRNO(bpf_program__attach_kprobe_opts(p, sym, &opts));
}

long bk_attach_uprobe(struct bpf_program *p, int retprobe, int pid, const char *binary,
		      unsigned long offset, unsigned long ref_ctr_offset, unsigned long long cookie,
		      struct bpf_link **out)
{
	LIBBPF_OPTS(bpf_uprobe_opts, opts, .retprobe = retprobe, .ref_ctr_offset = ref_ctr_offset,
		    .bpf_cookie = cookie);
	LINK_OR_ERRNO(bpf_program__attach_uprobe_opts(p, pid, binary, offset, &opts));
}
