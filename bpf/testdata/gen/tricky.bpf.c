// SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause)
/* Maps and globals of tricky layouts (tricky.h) for bpfkit gen. The syscall program
 * `fill` writes known values from C, so a test reads them back through the generated Go
 * types and sees whether Go and C agree on every offset and bit. */
#include "tricky.h"
#include <bpf/bpf_helpers.h>

char LICENSE[] SEC("license") = "Dual BSD/GPL";

struct {
	__uint(type, BPF_MAP_TYPE_HASH);
	__uint(max_entries, 16);
	__type(key, __u32);
	__type(value, struct tricky_value);
} values SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_ARRAY);
	__uint(max_entries, 4);
	__type(key, __u32);
	__type(value, struct packed_rec);
} packed SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_ARRAY);
	__uint(max_entries, 2);
	__type(key, __u32);
	__type(value, struct flags);
} flag_map SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_PERCPU_ARRAY);
	__uint(max_entries, 1);
	__type(key, __u32);
	__type(value, tdef_t);
} per_cpu SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_LRU_HASH);
	__uint(max_entries, 8);
	__type(key, union addr);
	__type(value, enum state);
} by_addr SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_QUEUE);
	__uint(max_entries, 8);
	__type(value, struct inner);
} queue SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_LPM_TRIE);
	__uint(max_entries, 8);
	__uint(map_flags, BPF_F_NO_PREALLOC);
	__type(key, struct lpm_key);
	__type(value, __u64);
} trie SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_HASH);
	__uint(max_entries, 2);
	__type(key, __u32);
	__type(value, struct collide);
} collided SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_RINGBUF);
	__uint(max_entries, 4096);
} events SEC(".maps");

__u64 counter;				/* .bss */
struct flags bss_flags;			/* .bss */
int level = 3;				/* .data */
enum state start_state = STATE_RUNNING;	/* .data */
const volatile __u32 limit = 10;	/* .rodata */
const volatile union addr target = { .v4 = 0x0100007f };	/* .rodata */
const volatile char label[5] = "hey";	/* .rodata */
__u32 custom SEC(".data.custom") = 1;	/* a named sub-section */
static volatile __u64 hidden;		/* static: not in the skeleton */

/* a subprogram: its prototype puts struct with_flex into the BTF, which a local variable
 * alone would not, so -type with_flex can find it */
static __attribute__((noinline)) void flex_fill(struct with_flex *e)
{
	e->n = 2;
	e->data[0] = 5;
	e->data[1] = 6;
}

SEC("syscall")
int fill(void *ctx)
{
	__u32 key = 1;
	struct tricky_value v = {};
	struct packed_rec p = { .a = 0xa1, .b = 0xb2b3b4b5, .c = 0xc6c7 };
	tdef_t t = { .id = 42, .d = DELTA_DOWN };
	struct inner in = { .a = 0x1111, .b = 0x22, .c = 0x33333333 };
	struct flags fl = {};

	v.kind = 9;
	v.st = STATE_DONE;
	v.total = 0x0102030405060708ULL;
	v.items[2].a = 0xaaaa;
	v.items[2].b = 0xbb;
	v.items[2].c = 0xcccccccc;
	v.addr.parts.port = 0x1234;
	v.addr.parts.family = 10;
	fl.ready = 1;
	fl.mode = 5;
	fl.level = -3;
	fl.on = 1;
	fl.st = STATE_DONE;
	fl.tag = 0x7e;
	fl.big = 0x12345678abULL;
	fl.neg = -70000;
	v.lo = 0xdeadbeef;
	v.hi = 0xfeedface;
	v.point.x = 11;
	v.point.y = 22;
	__builtin_memcpy(v.name, "twelve chars", 13);
	bpf_map_update_elem(&values, &key, &v, BPF_ANY);
	bpf_map_update_elem(&packed, &key, &p, BPF_ANY);
	bpf_map_update_elem(&flag_map, &key, &fl, BPF_ANY);
	/* flags stored from Go in slot 0 (tag set): copied to slot 1 with level + 1 */
	__u32 zero = 0;
	struct flags *from_go = bpf_map_lookup_elem(&flag_map, &zero);
	if (from_go && from_go->tag) {
		struct flags out = *from_go;

		out.level += 1;
		bpf_map_update_elem(&flag_map, &key, &out, BPF_ANY);
	}
	key = 0;
	bpf_map_update_elem(&per_cpu, &key, &t, BPF_ANY);
	bpf_map_push_elem(&queue, &in, BPF_ANY);

	struct collide c = { .my_pid = 1, .myPid = 2, .set_a = 3, .a = -2 };
	bpf_map_update_elem(&collided, &key, &c, BPF_ANY);

	/* a ring buffer event of a type only -type names (no map declares it) */
	struct with_flex *e = bpf_ringbuf_reserve(&events, sizeof(*e) + 2 * sizeof(__u64), 0);
	if (e) {
		flex_fill(e);
		bpf_ringbuf_submit(e, 0);
	}

	counter += limit + custom + level + hidden;
	bss_flags = fl;
	return 0;
}

/* takes the lock of every value it is given, as a lock-holding program must */
SEC("xdp")
int count(struct xdp_md *ctx)
{
	__u32 key = 1;
	struct tricky_value *v = bpf_map_lookup_elem(&values, &key);

	if (!v)
		return XDP_PASS;
	bpf_spin_lock(&v->lock);
	v->total++;
	bpf_spin_unlock(&v->lock);
	return XDP_PASS;
}
