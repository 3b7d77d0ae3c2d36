// SPDX-License-Identifier: Apache-2.0
/* The C baseline of loader's BenchmarkLifecycle: N cycles of libbpf's skeleton
 * lifecycle (open, set my_pid, load, attach, destroy) of bpf/minimal.bpf.o, through a
 * skeleton made by `bpftool gen skeleton`. Prints the mean nanoseconds per cycle.
 * Built and run by the benchmark itself (see loader/bench_test.go). */
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <time.h>
#include <unistd.h>
#include "minimal.skel.h"

static int quiet(enum libbpf_print_level level, const char *fmt, va_list args)
{
	return level == LIBBPF_WARN ? vfprintf(stderr, fmt, args) : 0;
}

int main(int argc, char **argv)
{
	struct timespec start, end;
	long n = argc > 1 ? atol(argv[1]) : 1;

	libbpf_set_print(quiet);
	clock_gettime(CLOCK_MONOTONIC, &start);
	for (long i = 0; i < n; i++) {
		struct minimal_bpf *skel = minimal_bpf__open();

		if (!skel)
			return 1;
		skel->bss->my_pid = getpid();
		if (minimal_bpf__load(skel) || minimal_bpf__attach(skel)) {
			minimal_bpf__destroy(skel);
			return 2;
		}
		minimal_bpf__destroy(skel);
	}
	clock_gettime(CLOCK_MONOTONIC, &end);
	printf("%.0f\n", ((end.tv_sec - start.tv_sec) * 1e9 + (end.tv_nsec - start.tv_nsec)) / n);
	return 0;
}
