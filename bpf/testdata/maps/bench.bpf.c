// SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause)
//go:build ignore

/* Maps for bench/: the same maps are driven by bpfkit, cilium/ebpf, libbpfgo and a C
 * program through libbpf in one run. */
#include <linux/bpf.h>
#include <bpf/bpf_helpers.h>

char LICENSE[] SEC("license") = "Dual BSD/GPL";

struct val16 {
	__u64 a;
	__u64 b;
};

/* 4-byte key, 16-byte value: the shape first measured on the development VM */
struct {
	__uint(type, BPF_MAP_TYPE_HASH);
	__uint(max_entries, 1024);
	__type(key, __u32);
	__type(value, struct val16);
} small SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_HASH);
	__uint(max_entries, 100000);
	__type(key, __u32);
	__type(value, struct val16);
} big SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_RINGBUF);
	__uint(max_entries, 16 << 20);
} events SEC(".maps");

struct event {
	__u64 seq;
	__u8 pad[56];
};

__u32 events_per_run = 1024;

/* writes events_per_run 64-byte events (default flags: the kernel wakes a reader that
 * has caught up, which cilium/ebpf's reader needs before it looks at the ring) */
SEC("xdp")
int fill(struct xdp_md *ctx)
{
	struct event ev = {};
	__u32 n = events_per_run;

	for (__u32 i = 0; i < 4096; i++) {
		if (i >= n)
			break;
		ev.seq = i;
		bpf_ringbuf_output(&events, &ev, sizeof(ev), 0);
	}
	return XDP_PASS;
}
