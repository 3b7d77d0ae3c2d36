// SPDX-License-Identifier: Apache-2.0
/* mapbench: the C baseline of bench/. It drives maps that the Go benchmark created and
 * passed down as inherited descriptors, through libbpf, and prints one line:
 * "<ns per op> <ops>". Built and run by bench/maps_bench_test.go.
 *
 *   mapbench lookup  <map fd> <iterations>
 *   mapbench update  <map fd> <iterations>
 *   mapbench batch   <map fd> <batch size> <walks>          ns per entry
 *   mapbench ringbuf <ringbuf fd> <prog fd> <events> <runs>  ns per event consumed;
 *                    the ring is filled by <runs> test runs of the program between drains
 */
#include <errno.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <bpf/bpf.h>
#include <bpf/libbpf.h>

struct val16 {
	uint64_t a, b;
};

struct event {
	uint64_t seq;
	uint8_t pad[56];
};

static uint64_t now_ns(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000000000ull + ts.tv_nsec;
}

static int die(const char *what, int err)
{
	fprintf(stderr, "mapbench: %s: %s\n", what, strerror(err < 0 ? -err : err));
	return 1;
}

static uint64_t consumed;

/* The Go readers copy each event out of the ring into a typed value (the slot is reused
 * once the consumer position moves on); so does the C callback, into a 256-slot array the
 * compiler cannot drop (a memcpy into a local would shrink to the one field read). */
struct event sink[256];

static int on_event(void *ctx, void *data, size_t size)
{
	memcpy(&sink[consumed & 255], data, sizeof(struct event));
	consumed++;
	return 0;
}

int main(int argc, char **argv)
{
	if (argc < 4)
		return fprintf(stderr, "usage: see the comment in mapbench.c\n"), 2;
	const char *mode = argv[1];
	int fd = atoi(argv[2]);
	long n = atol(argv[3]);
	uint64_t t0, t1;

	if (!strcmp(mode, "lookup") || !strcmp(mode, "update")) {
		uint32_t key = 1;
		struct val16 v = {1, 2};
		int lookup = !strcmp(mode, "lookup");
		int err;

		if ((err = bpf_map_update_elem(fd, &key, &v, BPF_ANY)))
			return die("seed update", errno);
		t0 = now_ns();
		for (long i = 0; i < n; i++) {
			err = lookup ? bpf_map_lookup_elem(fd, &key, &v) : bpf_map_update_elem(fd, &key, &v, BPF_ANY);
			if (err)
				return die(mode, errno);
		}
		t1 = now_ns();
		printf("%.2f %ld\n", (double)(t1 - t0) / n, n);
		return 0;
	}
	if (!strcmp(mode, "batch")) {
		long walks = argc > 4 ? atol(argv[4]) : 1;
		uint32_t bsize = n, in, out, count;
		uint32_t *keys = calloc(bsize, sizeof(*keys));
		struct val16 *vals = calloc(bsize, sizeof(*vals));
		long entries = 0;

		t0 = now_ns();
		for (long w = 0; w < walks; w++) {
			void *inp = NULL;
			for (;;) {
				count = bsize;
				int err = bpf_map_lookup_batch(fd, inp, &out, keys, vals, &count, NULL);
				entries += count;
				if (err && errno == ENOENT)
					break;
				if (err)
					return die("bpf_map_lookup_batch", errno);
				in = out;
				inp = &in;
			}
		}
		t1 = now_ns();
		printf("%.2f %ld\n", (double)(t1 - t0) / entries, entries);
		return 0;
	}
	if (!strcmp(mode, "ringbuf")) {
		if (argc < 6)
			return fprintf(stderr, "ringbuf needs <ringbuf fd> <prog fd> <events> <runs>\n"), 2;
		int runs = atoi(argv[5]);
		int prog = atoi(argv[3]);
		long events = atol(argv[4]);
		struct ring_buffer *rb = ring_buffer__new(fd, on_event, NULL, NULL);
		uint64_t spent = 0;
		char pkt[64] = {};

		if (!rb)
			return die("ring_buffer__new", errno);
		while ((long)consumed < events) {
			/* fill, not timed */
			LIBBPF_OPTS(bpf_test_run_opts, topts, .data_in = pkt, .data_size_in = sizeof(pkt), .repeat = runs);
			int err = bpf_prog_test_run_opts(prog, &topts);
			if (err && errno != EINTR)
				return die("bpf_prog_test_run_opts", errno);
			t0 = now_ns();
			int got = ring_buffer__consume(rb);
			t1 = now_ns();
			if (got < 0)
				return die("ring_buffer__consume", got);
			spent += t1 - t0;
		}
		printf("%.2f %lu %lu\n", (double)spent / consumed, (unsigned long)consumed, (unsigned long)sink[0].seq);
		ring_buffer__free(rb);
		return 0;
	}
	return fprintf(stderr, "mapbench: unknown mode %s\n", mode), 2;
}
