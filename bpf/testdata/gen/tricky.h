/* SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause) */
/* Layouts that are easy to get wrong in Go, for bpfkit gen's golden and kernel tests. */
#ifndef TRICKY_H
#define TRICKY_H

#include <linux/types.h>
#include <linux/bpf.h>

enum state { STATE_IDLE = 0, STATE_RUNNING = 1, STATE_DONE = 7 };
/* Signed in C, but clang 14 (Debian bookworm) writes every BTF enum as unsigned and has
 * no 64-bit enums (it truncates 0x100000000 to 0): the Go type follows the BTF. */
enum delta { DELTA_DOWN = -1, DELTA_NONE = 0, DELTA_UP = 1 };

struct inner {
	__u16 a;
	__u8 b;
	/* 1 byte of padding */
	__u32 c;
};

/* two runs of bitfields around a plain member; signed, bool and enum bitfields */
struct flags {
	unsigned int ready : 1;
	unsigned int mode : 3;
	int level : 4;
	_Bool on : 1;
	enum state st : 3;
	__u8 tag;
	unsigned long long big : 40;
	__s64 neg : 20;
};

union addr {
	__u32 v4;
	__u8 v6[16];
	struct {
		__u16 port;
		__u16 family;
	} parts;
};

struct tricky_value {
	struct bpf_spin_lock lock;
	__u8 kind;
	/* 3 bytes of padding */
	enum state st;
	__u64 total;
	struct inner items[3];
	union addr addr;
	/* no struct flags here: Linux 6.18 refuses (EINVAL, and no word in the BTF log) the
	 * BTF of an object whose map value holds a bpf_spin_lock beside a struct flags */
	union {
		__u64 raw;
		struct {
			__u32 lo;
			__u32 hi;
		};
	};
	struct {
		__u32 x, y;
	} point;
	char name[13];
	/* 3 bytes of tail padding */
};

struct packed_rec {
	__u8 a;
	__u32 b;
	__u16 c;
} __attribute__((packed));

struct with_flex {
	__u32 n;
	__u64 data[];
};

typedef struct {
	__u64 id;
	enum delta d;
} tdef_t;

/* Go names that collide: my_pid and myPid; the field set_a and the setter of a */
struct collide {
	int my_pid;
	int myPid;
	int set_a;
	int a : 4;
};

struct lpm_key {
	__u32 prefixlen;
	__u8 data[4];
};

#endif
