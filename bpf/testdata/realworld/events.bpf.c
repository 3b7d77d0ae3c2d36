// SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause)
/* Event streams shaped like tracing tools': a ring buffer and a perf buffer of struct
 * event, which the program only reaches through a pointer (so a global keeps it in BTF,
 * as gen's -type needs), and a ring buffer of records of many sizes (a header and a
 * variable tail), for the raw reader. The XDP programs emit when run with
 * BPF_PROG_TEST_RUN: nr events of each kind per run. */
#include <linux/bpf.h>
#include <bpf/bpf_helpers.h>

char LICENSE[] SEC("license") = "Dual BSD/GPL";

struct event {
	__u32 seq;
	__u32 run;
	__u64 ts;
	char comm[16];
};

/* a record of msg_len + 4 bytes: 5 to 67 */
struct msg_hdr {
	__u16 seq;
	__u16 len;
};

struct event *unused_event __attribute__((unused));

struct {
	__uint(type, BPF_MAP_TYPE_RINGBUF);
	__uint(max_entries, 1 << 16);
} events SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_PERF_EVENT_ARRAY);
	__uint(key_size, sizeof(__u32));
	__uint(value_size, sizeof(__u32));
} perf_events SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_RINGBUF);
	__uint(max_entries, 1 << 16);
} msgs SEC(".maps");

__u32 nr = 4;
__u32 runs;

SEC("xdp")
int emit_events(struct xdp_md *ctx)
{
	__u32 run = runs++;

	for (__u32 i = 0; i < 64 && i < nr; i++) {
		struct event *e = bpf_ringbuf_reserve(&events, sizeof(*e), 0);

		if (!e)
			return XDP_ABORTED;
		e->seq = i;
		e->run = run;
		e->ts = bpf_ktime_get_ns();
		bpf_get_current_comm(e->comm, sizeof(e->comm));
		bpf_ringbuf_submit(e, 0);
	}
	return XDP_PASS;
}

SEC("xdp")
int emit_perf(struct xdp_md *ctx)
{
	__u32 run = runs++;
	struct event e = { .run = run };

	for (__u32 i = 0; i < 64 && i < nr; i++) {
		e.seq = i;
		bpf_perf_event_output(ctx, &perf_events, BPF_F_CURRENT_CPU, &e, sizeof(e));
	}
	return XDP_PASS;
}

/* record i is a header and i % 64 bytes of tail, each byte the record's seq */
SEC("xdp")
int emit_msgs(struct xdp_md *ctx)
{
	__u8 buf[4 + 63];

	for (__u32 i = 0; i < 64 && i < nr; i++) {
		struct msg_hdr *h = (void *)buf;
		__u32 len = i % 64;

		h->seq = i;
		h->len = len;
		for (__u32 j = 0; j < 63; j++)
			buf[4 + j] = i;
		bpf_ringbuf_output(&msgs, buf, (4 + len) & 127, 0);
	}
	return XDP_PASS;
}
