// SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause)
/* A load balancer's datapath at the size of the largest real programs (issue 12): a tc
 * classifier of some 15,000 instructions, everything inlined into one function, with
 * about 250 bpf_spin_lock and 260 bpf_spin_unlock calls on values of HASH and ARRAY maps,
 * helpers between the critical sections, and branches at every stage: Ethernet and VLAN,
 * IPv4 or IPv6 (extension headers), L4, counters, health checks, rate limit, ACL (32
 * rules per family, one stage each), ICMP errors, connection tracking in both directions
 * with a TCP state machine, SYN guard, service and backend selection, tenant policies (16
 * per family), quotas, MSS clamping, NAT, accounting, sampling to a ring buffer. The
 * parsed packet lives in a per-CPU scratch map, as in real datapaths; the parse offsets,
 * the L4 protocol, the TCP flags, the fragment flag and the ACL's verdict and mark stay in
 * registers, with two IPv6 extension headers: the verifier walks some 750,000
 * instructions on 6.18 (2.2 s), three quarters of its limit.
 *
 * Three programs share the one body, lb_main(), and differ only in its variant argument:
 * big_lb loads; big_lb_exit_locked returns with a connection's lock held on one path
 * deep inside (IPv6, forward direction, TCP RST on a closing connection, in
 * lb_conn_update: rule I6b); big_lb_helper_locked calls bpf_ktime_get_ns under a
 * backend's lock in the IPv4 NAT stage (lb_nat: rule I1).
 *
 * Written for this corpus; the stages follow what L4 load balancers do, no code is taken
 * from one. */
#include "slcorpus.h"
#include <linux/if_ether.h>
#include <linux/ip.h>
#include <linux/ipv6.h>
#include <linux/in.h>
#include <linux/pkt_cls.h>
#include <bpf/bpf_endian.h>

char LICENSE[] SEC("license") = "Dual BSD/GPL";

/* The one thing the three programs differ in. */
enum lb_variant {
	LB_OK = 0,           /* every lock released before every exit */
	LB_EXIT_LOCKED = 1,  /* I6b: one exit deep inside holds a connection's lock */
	LB_HELPER_LOCKED = 2 /* I1: one helper call deep inside, under a backend's lock */
};

#define LB_ACL_RULES 32 /* ACL rules per family, one stage each */
#define LB_PROBES 8     /* backends probed for the least loaded */
#define LB_POLICIES 16  /* tenant policies per family, one stage each */
#define LB_RL_BUCKETS 256
#define LB_BACKENDS 1024
#define LB_QUOTA_SLOTS 64
#define LB_QOS_CLASSES 64
#define LB_VLANS 4096
#define LB_RTT_BUCKETS 16
#define LB_V6_EXT_HDRS 2 /* IPv6 extension headers skipped before the L4 header */

/* Counter slots of lb_stats. */
enum {
	ST_RX,
	ST_NOT_IP,
	ST_SHORT,
	ST_VLAN,
	ST_V4,
	ST_V6,
	ST_BAD_L3,
	ST_FRAG,
	ST_TTL,
	ST_RATE_DROP,
	ST_ACL_DROP,
	ST_ACL_ALLOW,
	ST_ACL_MARK,
	ST_CT_HIT,
	ST_CT_MISS,
	ST_CT_CLOSED,
	ST_CT_INVALID,
	ST_NO_SVC,
	ST_NO_BACKEND,
	ST_STICKY,
	ST_NEW_FLOW,
	ST_CT_FULL,
	ST_QUOTA_DROP,
	ST_NAT,
	ST_NAT_FAIL,
	ST_TX,
	ST_ICMP,
	ST_UDP,
	ST_TCP,
	ST_OTHER_L4,
	ST_V6_EXT,
	ST_REPLY,
	ST_SNAT,
	ST_SNAT_FAIL,
	ST_SAMPLED,
	ST_SAMPLE_LOST,
	ST_REV_FULL,
	ST_HC,
	ST_HC_CHANGE,
	ST_SYN_FLOOD,
	ST_ICMP_ERR,
	ST_MSS,
	ST_POLICY_DROP,
	ST_POLICY_COUNT,
	ST_SLOTS = 64
};

/* TCP flags as they sit in byte 13 of the header. */
#define LB_FIN 0x01
#define LB_SYN 0x02
#define LB_RST 0x04
#define LB_PSH 0x08
#define LB_ACK 0x10

/* Connection states. */
enum { CT_NEW, CT_SYN_SENT, CT_SYN_RECV, CT_ESTABLISHED, CT_FIN_WAIT, CT_CLOSING, CT_CLOSED };

/* Configuration flags. */
#define CFG_DROP_FRAGS 0x1
#define CFG_STICKY 0x2
#define CFG_STRICT_TCP 0x4
#define CFG_NAT 0x8
#define CFG_QUOTA 0x10
#define CFG_SAMPLE 0x20
#define CFG_SYN_GUARD 0x40
#define CFG_MSS 0x80

/* ACL actions. */
enum { ACL_NONE, ACL_ALLOW, ACL_DROP, ACL_MARK, ACL_COUNT };

struct vlan_hdr {
	__be16 tci;
	__be16 encap;
};

/* What the parser keeps of a packet; everything after parsing reads this, not the packet.
 * It lives in a per-CPU scratch map (lb_scratch), as in real datapaths: the stack is too
 * small for it and the keys, values and flows of every stage. */
struct lb_pkt {
	__u32 src[4];
	__u32 dst[4];
	__u64 now;
	__u32 len;
	__u32 hash;
	__u32 mark;
	__u32 cfg_flags;
	__u32 sample_rate;
	__u32 syn_limit;
	__u16 hc_port;
	__u16 mss;
	__u32 backend;
	__u32 l3_off;
	__u32 l4_off;
	__u16 sport; /* ports in host order */
	__u16 dport;
	__u16 vlan_id;
	__u8 proto;
	__u8 tcp_flags;
	__u8 ttl;
	__u8 tos;
	__u8 frag;
	__u8 vlan_depth;
};

struct lb_cfg {
	struct bpf_spin_lock lock;
	__u32 flags;
	__u32 generation;
	__u32 max_len;
	__u32 sample_rate;
	__u16 hc_port;
	__u16 mss;
	__u32 syn_limit;
	__u64 packets;
	__u64 last_ns;
};

struct lb_stat {
	struct bpf_spin_lock lock;
	__u32 last_len;
	__u64 packets;
	__u64 bytes;
	__u64 last_ns;
};

struct lb_bucket {
	struct bpf_spin_lock lock;
	__u32 tokens;
	__u32 rate;
	__u32 burst;
	__u64 last_ns;
	__u64 dropped;
};

struct lb_acl {
	struct bpf_spin_lock lock;
	__u32 action;
	__u32 src[4];
	__u32 mask[4];
	__u16 dport_lo;
	__u16 dport_hi;
	__u8 proto;
	__u8 pad[3];
	__u32 mark;
	__u64 hits;
	__u64 bytes;
	__u64 last_ns;
};

/* A tenant policy: which clients may reach which backends. */
struct lb_policy {
	struct bpf_spin_lock lock;
	__u32 action;
	__u32 src[4];
	__u32 mask[4];
	__u32 backend_lo;
	__u32 backend_hi;
	__u8 proto;
	__u8 pad[3];
	__u64 hits;
	__u64 last_ns;
};

struct lb_flow {
	__u32 src[4];
	__u32 dst[4];
	__u16 sport;
	__u16 dport;
	__u8 proto;
	__u8 pad[3];
};

struct lb_conn {
	struct bpf_spin_lock lock;
	__u32 state;
	__u32 backend;
	__u32 flags;
	__u32 fins;
	__u32 rsts;
	__u32 icmp_errs;
	__u32 mtu;
	__u64 packets;
	__u64 bytes;
	__u64 created_ns;
	__u64 last_ns;
	__u32 vip[4]; /* reply direction: the service address to put back */
	__u16 vport;  /* host order */
	__u16 pad;
};

struct lb_svc_key {
	__u32 vip[4];
	__u16 port;
	__u8 proto;
	__u8 pad;
};

struct lb_svc {
	struct bpf_spin_lock lock;
	__u32 flags;
	__u32 base;
	__u32 count;
	__u32 next;
	__u32 sticky_ns;
	__u64 hits;
	__u64 bytes;
};

struct lb_backend {
	struct bpf_spin_lock lock;
	__u32 addr[4];
	__be16 port; /* 0: the service's port */
	__u8 healthy;
	__u8 weight;
	__u32 conns;
	__u32 max_conns;
	__u32 fails;
	__u64 packets;
	__u64 bytes;
	__u64 last_ns;
};

struct lb_session {
	struct bpf_spin_lock lock;
	__u32 backend;
	__u64 expires_ns;
	__u64 uses;
};

struct lb_counter {
	struct bpf_spin_lock lock;
	__u32 last_len;
	__u64 packets;
	__u64 bytes;
};

/* One sampled packet, as the ring buffer carries it to user space. */
struct lb_event {
	__u32 src[4];
	__u32 dst[4];
	__u16 sport;
	__u16 dport;
	__u8 proto;
	__u8 tcp_flags;
	__u16 vlan_id;
	__u32 backend;
	__u32 len;
	__u64 now;
};

/* A backend's health, from the answers to the health checker's probes. */
struct lb_health {
	struct bpf_spin_lock lock;
	__u32 backend;
	__u32 ok;
	__u32 fails;
	__u32 rise;
	__u32 fall;
	__u8 healthy;
	__u8 reported;
	__u16 pad;
	__u64 last_ns;
};

/* SYN counts of one source prefix, per window. */
struct lb_syn {
	struct bpf_spin_lock lock;
	__u32 count;
	__u64 window_ns;
	__u64 blocked_until;
};

struct lb_quota {
	struct bpf_spin_lock lock;
	__u32 limit;
	__u32 used;
	__u32 denied;
	__u64 window_ns;
};

#define LB_ARRAY(name, vtype, n)                  \
	struct {                                  \
		__uint(type, BPF_MAP_TYPE_ARRAY); \
		__uint(max_entries, n);           \
		__type(key, __u32);               \
		__type(value, vtype);             \
	} name SEC(".maps")

#define LB_HASH(name, ktype, vtype, n)           \
	struct {                                 \
		__uint(type, BPF_MAP_TYPE_HASH); \
		__uint(max_entries, n);          \
		__type(key, ktype);              \
		__type(value, vtype);            \
	} name SEC(".maps")

/* The per-CPU scratch of struct lb_pkt: no lock there (PERCPU_ARRAY may hold none). */
struct {
	__uint(type, BPF_MAP_TYPE_PERCPU_ARRAY);
	__uint(max_entries, 1);
	__type(key, __u32);
	__type(value, struct lb_pkt);
} lb_scratch SEC(".maps");

LB_ARRAY(lb_cfg, struct lb_cfg, 1);
LB_ARRAY(lb_stats, struct lb_stat, ST_SLOTS);
LB_ARRAY(lb_buckets, struct lb_bucket, LB_RL_BUCKETS);
LB_ARRAY(lb_acl4, struct lb_acl, LB_ACL_RULES);
LB_ARRAY(lb_acl6, struct lb_acl, LB_ACL_RULES);
LB_ARRAY(lb_backends, struct lb_backend, LB_BACKENDS);
LB_ARRAY(lb_policies4, struct lb_policy, LB_POLICIES);
LB_ARRAY(lb_policies6, struct lb_policy, LB_POLICIES);
LB_ARRAY(lb_quotas, struct lb_quota, LB_QUOTA_SLOTS);
LB_HASH(lb_conns4, struct lb_flow, struct lb_conn, 65536);
LB_HASH(lb_conns6, struct lb_flow, struct lb_conn, 65536);
LB_HASH(lb_svcs, struct lb_svc_key, struct lb_svc, 4096);
LB_HASH(lb_sessions, struct lb_svc_key, struct lb_session, 65536);
LB_HASH(lb_revs4, struct lb_flow, struct lb_conn, 65536);
LB_HASH(lb_revs6, struct lb_flow, struct lb_conn, 65536);
LB_ARRAY(lb_qos, struct lb_counter, LB_QOS_CLASSES);
LB_ARRAY(lb_rtt, struct lb_counter, 2 * LB_RTT_BUCKETS);
LB_HASH(lb_healths, struct lb_svc_key, struct lb_health, 1024);
LB_HASH(lb_syns, struct lb_svc_key, struct lb_syn, 65536);
LB_ARRAY(lb_vlans, struct lb_counter, LB_VLANS);

struct {
	__uint(type, BPF_MAP_TYPE_RINGBUF);
	__uint(max_entries, 256 * 1024);
} lb_events SEC(".maps");

/* lb_stat bumps one counter slot under its lock. */
static __always_inline void lb_stat(__u32 slot, const struct lb_pkt *p)
{
	struct lb_stat *s = bpf_map_lookup_elem(&lb_stats, &slot);

	if (!s)
		return;
	bpf_spin_lock(&s->lock);
	s->packets++;
	s->bytes += p->len;
	s->last_ns = p->now;
	s->last_len = p->len;
	bpf_spin_unlock(&s->lock);
}

/* lb_hash mixes the addresses, ports and protocol into 32 bits (murmur3-style rounds). */
static __always_inline __u32 lb_hash(const struct lb_pkt *p, const int v6)
{
	__u32 h = 0x9e3779b9 ^ p->proto;

	h ^= p->src[0];
	h = (h << 13 | h >> 19) * 5 + 0xe6546b64;
	h ^= p->dst[0];
	h = (h << 13 | h >> 19) * 5 + 0xe6546b64;
	if (v6) {
#pragma unroll
		for (int i = 1; i < 4; i++) {
			h ^= p->src[i];
			h = (h << 13 | h >> 19) * 5 + 0xe6546b64;
			h ^= p->dst[i];
			h = (h << 13 | h >> 19) * 5 + 0xe6546b64;
		}
	}
	h ^= ((__u32)p->sport << 16) | p->dport;
	h ^= h >> 16;
	h *= 0x85ebca6b;
	h ^= h >> 13;
	h *= 0xc2b2ae35;
	h ^= h >> 16;
	return h;
}

/* lb_rate_limit takes a token from the flow hash's bucket (the clock is read before the
 * lock); 0 when the bucket is empty. */
static __always_inline int lb_rate_limit(const struct lb_pkt *p)
{
	__u32 idx = p->hash & (LB_RL_BUCKETS - 1);
	struct lb_bucket *b = bpf_map_lookup_elem(&lb_buckets, &idx);
	__u64 now = bpf_ktime_get_ns();
	int ok = 1;

	if (!b)
		return 1;
	bpf_spin_lock(&b->lock);
	if (b->rate) {
		__u64 elapsed = now - b->last_ns;
		__u64 refill = (elapsed >> 20) * b->rate;

		if (refill) {
			__u64 t = b->tokens + refill;

			b->tokens = t > b->burst ? b->burst : t;
			b->last_ns = now;
		}
		if (b->tokens)
			b->tokens--;
		else {
			b->dropped++;
			ok = 0;
		}
	}
	bpf_spin_unlock(&b->lock);
	return ok;
}

/* lb_acl_match compares one rule with the packet; nothing is locked. */
static __always_inline int lb_acl_match(const struct lb_acl *r, const struct lb_pkt *p, const int v6)
{
	if (r->action == ACL_NONE)
		return 0;
	if (r->proto && r->proto != p->proto)
		return 0;
	if (p->dport < r->dport_lo || p->dport > r->dport_hi)
		return 0;
	if ((p->src[0] & r->mask[0]) != r->src[0])
		return 0;
	if (v6) {
		if ((p->src[1] & r->mask[1]) != r->src[1])
			return 0;
		if ((p->src[2] & r->mask[2]) != r->src[2])
			return 0;
		if ((p->src[3] & r->mask[3]) != r->src[3])
			return 0;
	}
	return 1;
}

/* LB_ACL_STAGE(i): rule i of the family's table. A match counts under the rule's lock and
 * then drops (return), allows (skips the remaining rules), marks or only counts. */
#define LB_ACL_STAGE(i)                                                       \
	if (!decided) {                                                       \
		__u32 k = (i);                                                \
		struct lb_acl *r = bpf_map_lookup_elem(table, &k);            \
		if (r && lb_acl_match(r, p, v6)) {                            \
			__u32 action, mark;                                   \
			bpf_spin_lock(&r->lock);                              \
			r->hits++;                                            \
			r->bytes += p->len;                                   \
			r->last_ns = p->now;                                  \
			action = r->action;                                   \
			mark = r->mark;                                       \
			bpf_spin_unlock(&r->lock);                            \
			if (action == ACL_DROP) {                             \
				lb_stat(ST_ACL_DROP, p);                      \
				return TC_ACT_SHOT;                           \
			}                                                     \
			if (action == ACL_ALLOW) {                            \
				lb_stat(ST_ACL_ALLOW, p);                     \
				decided = 1;                                  \
			} else if (action == ACL_MARK) {                      \
				*marked = mark;                               \
				skb->mark = mark;                             \
			}                                                     \
		}                                                             \
	}

/* lb_acl runs the family's rules in order; TC_ACT_SHOT when one drops, -1 to go on, with
 * *trusted set when a rule allowed the packet (it then skips the SYN guard, the tenant
 * policies and the quotas). */
static __always_inline int lb_acl(struct __sk_buff *skb, struct lb_pkt *p, int *trusted, __u32 *marked, const int v6)
{
	void *table = v6 ? (void *)&lb_acl6 : (void *)&lb_acl4;
	int decided = 0;

	LB_ACL_STAGE(0)
	LB_ACL_STAGE(1)
	LB_ACL_STAGE(2)
	LB_ACL_STAGE(3)
	LB_ACL_STAGE(4)
	LB_ACL_STAGE(5)
	LB_ACL_STAGE(6)
	LB_ACL_STAGE(7)
	LB_ACL_STAGE(8)
	LB_ACL_STAGE(9)
	LB_ACL_STAGE(10)
	LB_ACL_STAGE(11)
	LB_ACL_STAGE(12)
	LB_ACL_STAGE(13)
	LB_ACL_STAGE(14)
	LB_ACL_STAGE(15)
	LB_ACL_STAGE(16)
	LB_ACL_STAGE(17)
	LB_ACL_STAGE(18)
	LB_ACL_STAGE(19)
	LB_ACL_STAGE(20)
	LB_ACL_STAGE(21)
	LB_ACL_STAGE(22)
	LB_ACL_STAGE(23)
	LB_ACL_STAGE(24)
	LB_ACL_STAGE(25)
	LB_ACL_STAGE(26)
	LB_ACL_STAGE(27)
	LB_ACL_STAGE(28)
	LB_ACL_STAGE(29)
	LB_ACL_STAGE(30)
	LB_ACL_STAGE(31)
	if (*marked)
		lb_stat(ST_ACL_MARK, p);
	*trusted = decided;
	return -1;
}

/* LB_POLICY_STAGE(i): tenant policy i, against the client and the chosen backend. A match
 * counts under the policy's lock; a drop returns, an allow skips the remaining ones. */
#define LB_POLICY_STAGE(i)                                                      \
	if (!decided) {                                                         \
		__u32 k = (i);                                                  \
		struct lb_policy *r = bpf_map_lookup_elem(table, &k);           \
		if (r && r->action != ACL_NONE && (!r->proto || r->proto == p->proto) && \
		    p->backend >= r->backend_lo && p->backend <= r->backend_hi &&  \
		    (p->src[0] & r->mask[0]) == r->src[0] &&                    \
		    (!v6 || ((p->src[1] & r->mask[1]) == r->src[1] &&           \
			     (p->src[2] & r->mask[2]) == r->src[2] &&           \
			     (p->src[3] & r->mask[3]) == r->src[3]))) {         \
			__u32 action;                                           \
			bpf_spin_lock(&r->lock);                                \
			r->hits++;                                              \
			r->last_ns = p->now;                                    \
			action = r->action;                                     \
			bpf_spin_unlock(&r->lock);                              \
			if (action == ACL_DROP) {                               \
				lb_stat(ST_POLICY_DROP, p);                     \
				return TC_ACT_SHOT;                             \
			}                                                       \
			if (action == ACL_ALLOW)                                \
				decided = 1;                                    \
			else                                                    \
				lb_stat(ST_POLICY_COUNT, p);                    \
		}                                                               \
	}

/* lb_policy runs the family's tenant policies for a new flow; TC_ACT_SHOT when one drops,
 * -1 to go on. */
static __always_inline int lb_policy(struct lb_pkt *p, const int v6)
{
	void *table = v6 ? (void *)&lb_policies6 : (void *)&lb_policies4;
	int decided = 0;

	LB_POLICY_STAGE(0)
	LB_POLICY_STAGE(1)
	LB_POLICY_STAGE(2)
	LB_POLICY_STAGE(3)
	LB_POLICY_STAGE(4)
	LB_POLICY_STAGE(5)
	LB_POLICY_STAGE(6)
	LB_POLICY_STAGE(7)
	LB_POLICY_STAGE(8)
	LB_POLICY_STAGE(9)
	LB_POLICY_STAGE(10)
	LB_POLICY_STAGE(11)
	LB_POLICY_STAGE(12)
	LB_POLICY_STAGE(13)
	LB_POLICY_STAGE(14)
	LB_POLICY_STAGE(15)
	return -1;
}

/* lb_flow_of fills the connection table's key from the packet. */
static __always_inline void lb_flow_of(struct lb_flow *f, const struct lb_pkt *p, const int v6)
{
	__builtin_memset(f, 0, sizeof(*f));
	f->src[0] = p->src[0];
	f->dst[0] = p->dst[0];
	if (v6) {
		f->src[1] = p->src[1];
		f->src[2] = p->src[2];
		f->src[3] = p->src[3];
		f->dst[1] = p->dst[1];
		f->dst[2] = p->dst[2];
		f->dst[3] = p->dst[3];
	}
	f->sport = p->sport;
	f->dport = p->dport;
	f->proto = p->proto;
}

/* lb_count bumps one counter of a class table (QoS class, VLAN) under its lock. */
static __always_inline void lb_count(void *table, __u32 idx, const struct lb_pkt *p)
{
	struct lb_counter *n = bpf_map_lookup_elem(table, &idx);

	if (!n)
		return;
	bpf_spin_lock(&n->lock);
	n->packets++;
	n->bytes += p->len;
	n->last_len = p->len;
	bpf_spin_unlock(&n->lock);
}

/* lb_rtt_count files a handshake's duration into its power-of-two bucket (from 1 µs). */
static __always_inline void lb_rtt_count(__u64 rtt, const struct lb_pkt *p, const int v6)
{
	__u32 bucket = 0;

#pragma unroll
	for (int i = 0; i < LB_RTT_BUCKETS - 1; i++)
		if (rtt >= (1000ull << i))
			bucket = i + 1;
	lb_count(&lb_rtt, bucket + (v6 ? LB_RTT_BUCKETS : 0), p);
}

/* lb_conn_update follows a known connection: counters and the TCP state machine under
 * the connection's lock. Returns TC_ACT_SHOT for a packet the state refuses, -1 to go
 * on; sets p->backend. */
static __always_inline int lb_conn_update(struct lb_pkt *p, struct lb_conn *c, __u8 proto, __u8 fl,
					  const int v6, const int reply, const int variant)
{
	__u32 state, verdict = 0;
	__u64 rtt = 0;

	bpf_spin_lock(&c->lock);
	c->packets++;
	c->bytes += p->len;
	c->last_ns = p->now;
	p->backend = c->backend;
	state = c->state;
	if (proto != IPPROTO_TCP) {
		c->state = CT_ESTABLISHED;
		bpf_spin_unlock(&c->lock);
		return -1;
	}
	if (fl & LB_RST) {
		c->rsts++;
		if (state == CT_CLOSING) {
			c->state = CT_CLOSED;
			if (v6 && !reply && variant == LB_EXIT_LOCKED)
				return (p->cfg_flags & CFG_STRICT_TCP) ? TC_ACT_SHOT : TC_ACT_OK;
			bpf_spin_unlock(&c->lock);
			lb_stat(ST_CT_CLOSED, p);
			return -1;
		}
		c->state = CT_CLOSING;
		bpf_spin_unlock(&c->lock);
		return -1;
	}
	switch (state) {
	case CT_NEW:
	case CT_SYN_SENT:
		if ((fl & (LB_SYN | LB_ACK)) == (LB_SYN | LB_ACK))
			c->state = CT_SYN_RECV;
		else if (fl & LB_ACK)
			c->state = CT_ESTABLISHED;
		else if (!(fl & LB_SYN))
			verdict = 1;
		break;
	case CT_SYN_RECV:
		if (fl & LB_ACK) {
			c->state = CT_ESTABLISHED;
			rtt = p->now - c->created_ns;
		} else if (fl & LB_SYN)
			c->flags |= 1;
		break;
	case CT_ESTABLISHED:
		if (fl & LB_FIN) {
			c->fins++;
			c->state = CT_FIN_WAIT;
		} else if (fl & LB_SYN) {
			c->flags |= 2;
			verdict = 1;
		}
		break;
	case CT_FIN_WAIT:
		if (fl & LB_FIN) {
			c->fins++;
			c->state = CT_CLOSING;
		} else if (fl & LB_SYN)
			verdict = 1;
		break;
	case CT_CLOSING:
		if (fl & LB_ACK)
			c->state = CT_CLOSED;
		break;
	default:
		if (fl & LB_SYN) {
			c->state = CT_SYN_SENT;
			c->fins = 0;
			c->created_ns = p->now;
		} else
			verdict = 1;
		break;
	}
	bpf_spin_unlock(&c->lock);
	if (rtt)
		lb_rtt_count(rtt, p, v6);
	if (verdict) {
		lb_stat(ST_CT_INVALID, p);
		if (p->cfg_flags & CFG_STRICT_TCP)
			return TC_ACT_SHOT;
	}
	return -1;
}

/* lb_sticky finds the backend a client used last, under the session's lock. */
static __always_inline int lb_sticky(struct lb_pkt *p, const int v6)
{
	struct lb_svc_key k = {};
	struct lb_session *s;
	int found = 0;

	k.vip[0] = p->src[0];
	if (v6) {
		k.vip[1] = p->src[1];
		k.vip[2] = p->src[2];
		k.vip[3] = p->src[3];
	}
	k.port = p->dport;
	k.proto = p->proto;
	s = bpf_map_lookup_elem(&lb_sessions, &k);
	if (!s)
		return 0;
	bpf_spin_lock(&s->lock);
	if (s->expires_ns > p->now) {
		p->backend = s->backend;
		s->uses++;
		found = 1;
	}
	bpf_spin_unlock(&s->lock);
	if (found)
		lb_stat(ST_STICKY, p);
	return found;
}

/* lb_remember records the client's backend for later packets (a helper call, no lock). */
static __always_inline void lb_remember(const struct lb_pkt *p, __u32 sticky_ns, const int v6)
{
	struct lb_svc_key k = {};
	struct lb_session s;

	__builtin_memset(&s, 0, sizeof(s));
	k.vip[0] = p->src[0];
	if (v6) {
		k.vip[1] = p->src[1];
		k.vip[2] = p->src[2];
		k.vip[3] = p->src[3];
	}
	k.port = p->dport;
	k.proto = p->proto;
	s.backend = p->backend;
	s.expires_ns = p->now + sticky_ns;
	bpf_map_update_elem(&lb_sessions, &k, &s, BPF_ANY);
}

/* LB_PROBE(i): look at the i-th candidate backend under its lock; keep the least loaded
 * healthy one. */
#define LB_PROBE(i)                                                             \
	if ((i) < count) {                                                      \
		__u32 idx = (base + next + (i)) & (LB_BACKENDS - 1);            \
		struct lb_backend *b = bpf_map_lookup_elem(&lb_backends, &idx); \
		if (b) {                                                        \
			__u32 load = ~0u;                                       \
			bpf_spin_lock(&b->lock);                                \
			if (b->healthy && b->conns < b->max_conns)              \
				load = b->weight ? b->conns / b->weight : b->conns; \
			bpf_spin_unlock(&b->lock);                              \
			if (load < best_load) {                                 \
				best_load = load;                               \
				best = idx;                                     \
			}                                                       \
		}                                                               \
	}

/* lb_select picks a backend for a new flow: the service under its lock, the client's
 * session, else the least loaded of LB_PROBES candidates. TC_ACT_OK when the packet is
 * for no service, TC_ACT_SHOT when no backend can take it, -1 to go on. */
static __always_inline int lb_select(struct lb_pkt *p, const int v6)
{
	struct lb_svc_key k = {};
	struct lb_svc *svc;
	__u32 base, count, next, flags, sticky_ns;
	__u32 best = 0, best_load = ~0u;

	k.vip[0] = p->dst[0];
	if (v6) {
		k.vip[1] = p->dst[1];
		k.vip[2] = p->dst[2];
		k.vip[3] = p->dst[3];
	}
	k.port = p->dport;
	k.proto = p->proto;
	svc = bpf_map_lookup_elem(&lb_svcs, &k);
	if (!svc) {
		lb_stat(ST_NO_SVC, p);
		return TC_ACT_OK;
	}
	bpf_spin_lock(&svc->lock);
	svc->hits++;
	svc->bytes += p->len;
	base = svc->base;
	count = svc->count;
	next = svc->next;
	svc->next = count ? (next + 1) % count : 0;
	flags = svc->flags;
	sticky_ns = svc->sticky_ns;
	bpf_spin_unlock(&svc->lock);
	if (!count) {
		lb_stat(ST_NO_BACKEND, p);
		return TC_ACT_SHOT;
	}
	if ((flags & CFG_STICKY) && lb_sticky(p, v6))
		return -1;
	LB_PROBE(0)
	LB_PROBE(1)
	LB_PROBE(2)
	LB_PROBE(3)
	LB_PROBE(4)
	LB_PROBE(5)
	LB_PROBE(6)
	LB_PROBE(7)
	if (best_load == ~0u) {
		lb_stat(ST_NO_BACKEND, p);
		return TC_ACT_SHOT;
	}
	p->backend = best;
	if (flags & CFG_STICKY)
		lb_remember(p, sticky_ns, v6);
	return -1;
}

/* lb_new_conn takes a connection slot on the chosen backend and reads its address under
 * its lock, records the flow in both directions (helper calls between critical sections),
 * and initialises what the tables cannot. */
static __always_inline int lb_new_conn(struct lb_pkt *p, struct lb_flow *f, void *conns, void *revs,
				       const int v6)
{
	__u32 idx = p->backend & (LB_BACKENDS - 1);
	struct lb_backend *b = bpf_map_lookup_elem(&lb_backends, &idx);
	struct lb_conn nc, *c;
	struct lb_flow r;
	__be16 port;
	int full = 0;

	if (!b)
		return TC_ACT_SHOT;
	__builtin_memset(&r, 0, sizeof(r));
	bpf_spin_lock(&b->lock);
	if (b->conns >= b->max_conns) {
		b->fails++;
		full = 1;
	} else
		b->conns++;
	r.src[0] = b->addr[0];
	if (v6) {
		r.src[1] = b->addr[1];
		r.src[2] = b->addr[2];
		r.src[3] = b->addr[3];
	}
	port = b->port;
	bpf_spin_unlock(&b->lock);
	if (full) {
		lb_stat(ST_NO_BACKEND, p);
		return TC_ACT_SHOT;
	}
	__builtin_memset(&nc, 0, sizeof(nc));
	nc.backend = idx;
	nc.state = p->proto == IPPROTO_TCP ? CT_SYN_SENT : CT_ESTABLISHED;
	nc.created_ns = p->now;
	if (bpf_map_update_elem(conns, f, &nc, BPF_NOEXIST)) {
		lb_stat(ST_CT_FULL, p);
		bpf_spin_lock(&b->lock);
		if (b->conns)
			b->conns--;
		bpf_spin_unlock(&b->lock);
		return TC_ACT_SHOT;
	}
	/* The reply comes from the backend to the client: it finds the service's address
	 * here, to put it back as the source. */
	r.dst[0] = p->src[0];
	nc.vip[0] = p->dst[0];
	if (v6) {
		r.dst[1] = p->src[1];
		r.dst[2] = p->src[2];
		r.dst[3] = p->src[3];
		nc.vip[1] = p->dst[1];
		nc.vip[2] = p->dst[2];
		nc.vip[3] = p->dst[3];
	}
	r.sport = port ? bpf_ntohs(port) : p->dport;
	r.dport = p->sport;
	r.proto = p->proto;
	nc.vport = p->dport;
	if (bpf_map_update_elem(revs, &r, &nc, BPF_ANY))
		lb_stat(ST_REV_FULL, p);
	c = bpf_map_lookup_elem(conns, f);
	if (!c)
		return -1;
	bpf_spin_lock(&c->lock);
	c->packets = 1;
	c->bytes = p->len;
	c->last_ns = p->now;
	bpf_spin_unlock(&c->lock);
	lb_stat(ST_NEW_FLOW, p);
	return -1;
}

/* lb_quota counts the flow against its destination port's window; TC_ACT_SHOT when the
 * window is used up, -1 to go on. */
static __always_inline int lb_quota(const struct lb_pkt *p)
{
	__u32 idx = p->dport & (LB_QUOTA_SLOTS - 1);
	struct lb_quota *q;
	int over = 0;

	if (!(p->cfg_flags & CFG_QUOTA))
		return -1;
	q = bpf_map_lookup_elem(&lb_quotas, &idx);
	if (!q)
		return -1;
	bpf_spin_lock(&q->lock);
	if (p->now - q->window_ns > 1000000000ull) {
		q->window_ns = p->now;
		q->used = 0;
	}
	if (q->limit && q->used >= q->limit) {
		q->denied++;
		over = 1;
	} else
		q->used++;
	bpf_spin_unlock(&q->lock);
	if (over) {
		lb_stat(ST_QUOTA_DROP, p);
		return TC_ACT_SHOT;
	}
	return -1;
}

/* lb_csum_word folds one changed 32-bit word of the pseudo header into the L4 checksum. */
static __always_inline int lb_csum_word(struct __sk_buff *skb, const struct lb_pkt *p, __u8 proto, __u32 from,
					__u32 to)
{
	__u32 csum_off;
	__u64 flags = BPF_F_PSEUDO_HDR | sizeof(__u32);

	if (proto == IPPROTO_TCP)
		csum_off = p->l4_off + 16;
	else if (proto == IPPROTO_UDP) {
		csum_off = p->l4_off + 6;
		flags |= BPF_F_MARK_MANGLED_0;
	} else
		return 0;
	return bpf_l4_csum_replace(skb, csum_off, from, to, flags);
}

/* lb_nat rewrites the destination to the chosen backend: its address and port are read
 * under the backend's lock, the packet is changed by helpers after the unlock. */
static __always_inline int lb_nat(struct __sk_buff *skb, struct lb_pkt *p, __u8 proto, const int v6,
				  const int variant)
{
	__u32 idx = p->backend & (LB_BACKENDS - 1);
	struct lb_backend *b;
	__u32 addr[4] = {};
	__be16 port;
	int err = 0;

	if (!(p->cfg_flags & CFG_NAT))
		return -1;
	b = bpf_map_lookup_elem(&lb_backends, &idx);
	if (!b) {
		lb_stat(ST_NAT_FAIL, p);
		return TC_ACT_SHOT;
	}
	bpf_spin_lock(&b->lock);
	addr[0] = b->addr[0];
	if (v6) {
		addr[1] = b->addr[1];
		addr[2] = b->addr[2];
		addr[3] = b->addr[3];
	}
	port = b->port;
	b->packets++;
	b->bytes += p->len;
	if (!v6 && variant == LB_HELPER_LOCKED)
		b->last_ns = bpf_ktime_get_ns();
	else
		b->last_ns = p->now;
	bpf_spin_unlock(&b->lock);
	if (!addr[0]) {
		lb_stat(ST_NAT_FAIL, p);
		return -1;
	}
	if (!v6) {
		err |= bpf_l3_csum_replace(skb, p->l3_off + 10, p->dst[0], addr[0], sizeof(__u32));
		err |= lb_csum_word(skb, p, proto, p->dst[0], addr[0]);
		err |= bpf_skb_store_bytes(skb, p->l3_off + 16, &addr[0], sizeof(__u32), 0);
	} else {
#pragma unroll
		for (int i = 0; i < 4; i++)
			err |= lb_csum_word(skb, p, proto, p->dst[i], addr[i]);
		err |= bpf_skb_store_bytes(skb, p->l3_off + 24, addr, sizeof(addr), 0);
	}
	if (port && (proto == IPPROTO_TCP || proto == IPPROTO_UDP)) {
		__be16 nport = port;
		__u32 csum_off = p->l4_off + (proto == IPPROTO_TCP ? 16 : 6);

		err |= bpf_l4_csum_replace(skb, csum_off, bpf_htons(p->dport), nport, sizeof(__u16));
		err |= bpf_skb_store_bytes(skb, p->l4_off + 2, &nport, sizeof(nport), 0);
	}
	if (err) {
		lb_stat(ST_NAT_FAIL, p);
		return TC_ACT_SHOT;
	}
	lb_stat(ST_NAT, p);
	return -1;
}

/* lb_reply puts the service's address back as the source of a backend's reply: read
 * under the connection's lock, written by helpers after the unlock. */
static __always_inline int lb_reply(struct __sk_buff *skb, struct lb_pkt *p, struct lb_conn *c, __u8 proto,
				    const int v6)
{
	__u32 vip[4] = {};
	__u16 vport;
	int err = 0;

	bpf_spin_lock(&c->lock);
	vip[0] = c->vip[0];
	if (v6) {
		vip[1] = c->vip[1];
		vip[2] = c->vip[2];
		vip[3] = c->vip[3];
	}
	vport = c->vport;
	p->backend = c->backend;
	bpf_spin_unlock(&c->lock);
	if (!vip[0]) {
		lb_stat(ST_SNAT_FAIL, p);
		return TC_ACT_SHOT;
	}
	if (!v6) {
		err |= bpf_l3_csum_replace(skb, p->l3_off + 10, p->src[0], vip[0], sizeof(__u32));
		err |= lb_csum_word(skb, p, proto, p->src[0], vip[0]);
		err |= bpf_skb_store_bytes(skb, p->l3_off + 12, &vip[0], sizeof(__u32), 0);
	} else {
#pragma unroll
		for (int i = 0; i < 4; i++)
			err |= lb_csum_word(skb, p, proto, p->src[i], vip[i]);
		err |= bpf_skb_store_bytes(skb, p->l3_off + 8, vip, sizeof(vip), 0);
	}
	if (vport && (proto == IPPROTO_TCP || proto == IPPROTO_UDP)) {
		__be16 nport = bpf_htons(vport);
		__u32 csum_off = p->l4_off + (proto == IPPROTO_TCP ? 16 : 6);

		err |= bpf_l4_csum_replace(skb, csum_off, bpf_htons(p->sport), nport, sizeof(__u16));
		err |= bpf_skb_store_bytes(skb, p->l4_off, &nport, sizeof(nport), 0);
	}
	if (err) {
		lb_stat(ST_SNAT_FAIL, p);
		return TC_ACT_SHOT;
	}
	lb_stat(ST_SNAT, p);
	return -1;
}

/* lb_sample sends one packet in sample_rate to user space through the ring buffer. */
static __always_inline void lb_sample(const struct lb_pkt *p)
{
	struct lb_event *ev;

	if (!(p->cfg_flags & CFG_SAMPLE) || !p->sample_rate)
		return;
	if (bpf_get_prandom_u32() % p->sample_rate)
		return;
	ev = bpf_ringbuf_reserve(&lb_events, sizeof(*ev), 0);
	if (!ev) {
		lb_stat(ST_SAMPLE_LOST, p);
		return;
	}
#pragma unroll
	for (int i = 0; i < 4; i++) {
		ev->src[i] = p->src[i];
		ev->dst[i] = p->dst[i];
	}
	ev->sport = p->sport;
	ev->dport = p->dport;
	ev->proto = p->proto;
	ev->tcp_flags = p->tcp_flags;
	ev->vlan_id = p->vlan_id;
	ev->backend = p->backend;
	ev->len = p->len;
	ev->now = p->now;
	bpf_ringbuf_submit(ev, 0);
	lb_stat(ST_SAMPLED, p);
}

/* lb_account counts the packet on its backend. */
static __always_inline void lb_account(const struct lb_pkt *p)
{
	__u32 idx = p->backend & (LB_BACKENDS - 1);
	struct lb_backend *b = bpf_map_lookup_elem(&lb_backends, &idx);

	if (!b)
		return;
	bpf_spin_lock(&b->lock);
	b->packets++;
	b->bytes += p->len;
	b->last_ns = p->now;
	bpf_spin_unlock(&b->lock);
}

/* The first bytes of a TCP, UDP or ICMP header, as far as the balancer reads them. */
struct lb_l4 {
	__be16 sport;
	__be16 dport;
	__u32 seq;
	__u32 ack;
	__u8 doff;
	__u8 flags;
};

/* lb_parse_l4 reads ports and flags at offset l4 of the packet; 0 when it is cut short. */
static __always_inline int lb_parse_l4(struct lb_pkt *p, void *data, void *data_end, __u32 l4)
{
	struct lb_l4 *h = data + l4;

	p->l4_off = l4;
	if (p->frag)
		return 1;
	switch (p->proto) {
	case IPPROTO_TCP:
		if ((void *)(h + 1) > data_end)
			return 0;
		p->sport = bpf_ntohs(h->sport);
		p->dport = bpf_ntohs(h->dport);
		p->tcp_flags = h->flags;
		lb_stat(ST_TCP, p);
		break;
	case IPPROTO_UDP:
		if ((void *)h + 8 > data_end)
			return 0;
		p->sport = bpf_ntohs(h->sport);
		p->dport = bpf_ntohs(h->dport);
		lb_stat(ST_UDP, p);
		break;
	case IPPROTO_ICMP:
	case IPPROTO_ICMPV6:
		if ((void *)h + 8 > data_end)
			return 0;
		/* type and code as the port, the echo id as the source port */
		p->dport = bpf_ntohs(h->sport);
		p->sport = bpf_ntohs(h->seq & 0xffff);
		lb_stat(ST_ICMP, p);
		break;
	default:
		lb_stat(ST_OTHER_L4, p);
		break;
	}
	return 1;
}

/* lb_health_check consumes the answer of a backend to the health checker's probe (sent
 * from hc_port): rise and fall counted under the health entry's lock, a change copied to
 * the backend under its own. TC_ACT_SHOT once consumed, -1 for any other packet. */
static __always_inline int lb_health_check(struct lb_pkt *p, __u8 proto, __u8 fl, const int v6)
{
	struct lb_svc_key k = {};
	struct lb_health *h;
	__u32 idx;
	__u8 healthy, changed = 0;

	if (!p->hc_port || p->dport != p->hc_port || proto != IPPROTO_TCP)
		return -1;
	k.vip[0] = p->src[0];
	if (v6) {
		k.vip[1] = p->src[1];
		k.vip[2] = p->src[2];
		k.vip[3] = p->src[3];
	}
	k.port = p->sport;
	k.proto = p->proto;
	h = bpf_map_lookup_elem(&lb_healths, &k);
	if (!h)
		return -1;
	bpf_spin_lock(&h->lock);
	h->last_ns = p->now;
	if (fl & LB_RST) {
		h->ok = 0;
		h->fails++;
		if (h->fails >= h->fall)
			h->healthy = 0;
	} else if ((fl & (LB_SYN | LB_ACK)) == (LB_SYN | LB_ACK)) {
		h->ok++;
		if (h->ok >= h->rise) {
			h->healthy = 1;
			h->fails = 0;
		}
	}
	healthy = h->healthy;
	if (healthy != h->reported) {
		h->reported = healthy;
		changed = 1;
	}
	idx = h->backend & (LB_BACKENDS - 1);
	bpf_spin_unlock(&h->lock);
	if (changed) {
		struct lb_backend *b = bpf_map_lookup_elem(&lb_backends, &idx);

		if (b) {
			bpf_spin_lock(&b->lock);
			b->healthy = healthy;
			if (!healthy)
				b->fails++;
			bpf_spin_unlock(&b->lock);
		}
		lb_stat(ST_HC_CHANGE, p);
	}
	lb_stat(ST_HC, p);
	return TC_ACT_SHOT;
}

/* lb_syn_guard counts the SYNs of the source's prefix (/24, /64) per second and blocks
 * the prefix for ten seconds past syn_limit. TC_ACT_SHOT while blocked, -1 otherwise. */
static __always_inline int lb_syn_guard(const struct lb_pkt *p, const int v6)
{
	struct lb_svc_key k = {};
	struct lb_syn *e;
	int blocked = 0;

	if (!(p->cfg_flags & CFG_SYN_GUARD) || !p->syn_limit)
		return -1;
	if (v6) {
		k.vip[0] = p->src[0];
		k.vip[1] = p->src[1];
	} else
		k.vip[0] = p->src[0] & bpf_htonl(0xffffff00);
	k.proto = v6 ? 6 : 4;
	e = bpf_map_lookup_elem(&lb_syns, &k);
	if (!e) {
		struct lb_syn n;

		__builtin_memset(&n, 0, sizeof(n));
		n.window_ns = p->now;
		bpf_map_update_elem(&lb_syns, &k, &n, BPF_NOEXIST);
		e = bpf_map_lookup_elem(&lb_syns, &k);
		if (!e)
			return -1;
	}
	bpf_spin_lock(&e->lock);
	if (e->blocked_until > p->now)
		blocked = 1;
	else {
		if (p->now - e->window_ns > 1000000000ull) {
			e->window_ns = p->now;
			e->count = 0;
		}
		if (++e->count > p->syn_limit) {
			e->blocked_until = p->now + 10000000000ull;
			blocked = 1;
		}
	}
	bpf_spin_unlock(&e->lock);
	if (blocked) {
		lb_stat(ST_SYN_FLOOD, p);
		return TC_ACT_SHOT;
	}
	return -1;
}

/* lb_icmp_error relates an ICMP error (unreachable, too big, time exceeded) to the
 * connection of the packet it quotes, looked up as quoted, and records it under that
 * connection's lock. The packet is read again from skb->data at the L4 offset. */
static __always_inline void lb_icmp_error(struct __sk_buff *skb, const struct lb_pkt *p, __u32 l4, void *conns,
					  const int v6)
{
	void *data = (void *)(long)skb->data;
	void *data_end = (void *)(long)skb->data_end;
	__u8 *icmp = data + l4;
	struct lb_flow f;
	struct lb_conn *c;
	__u32 mtu = 0;
	__u8 type, code;

	if ((void *)(icmp + 8) > data_end)
		return;
	type = icmp[0];
	code = icmp[1];
	__builtin_memset(&f, 0, sizeof(f));
	if (!v6) {
		struct iphdr *in;
		__u8 *ports;

		if (type != 3 && type != 11)
			return;
		if (type == 3 && code == 4)
			mtu = icmp[6] << 8 | icmp[7];
		in = (void *)(icmp + 8);
		if ((void *)(in + 1) > data_end)
			return;
		ports = (__u8 *)(in + 1);
		if ((void *)(ports + 4) > data_end)
			return;
		f.src[0] = in->saddr;
		f.dst[0] = in->daddr;
		f.proto = in->protocol;
		f.sport = ports[0] << 8 | ports[1];
		f.dport = ports[2] << 8 | ports[3];
	} else {
		struct ipv6hdr *in;
		__u8 *ports;

		if (type != 1 && type != 2 && type != 3)
			return;
		if (type == 2)
			mtu = icmp[6] << 8 | icmp[7];
		in = (void *)(icmp + 8);
		if ((void *)(in + 1) > data_end)
			return;
		ports = (__u8 *)(in + 1);
		if ((void *)(ports + 4) > data_end)
			return;
#pragma unroll
		for (int i = 0; i < 4; i++) {
			f.src[i] = in->saddr.in6_u.u6_addr32[i];
			f.dst[i] = in->daddr.in6_u.u6_addr32[i];
		}
		f.proto = in->nexthdr;
		f.sport = ports[0] << 8 | ports[1];
		f.dport = ports[2] << 8 | ports[3];
	}
	c = bpf_map_lookup_elem(conns, &f);
	if (!c)
		return;
	bpf_spin_lock(&c->lock);
	c->icmp_errs++;
	if (mtu && (!c->mtu || mtu < c->mtu))
		c->mtu = mtu;
	if (c->icmp_errs > 8 && c->state != CT_ESTABLISHED)
		c->state = CT_CLOSED;
	bpf_spin_unlock(&c->lock);
	lb_stat(ST_ICMP_ERR, p);
}

/* lb_mss_clamp lowers the MSS option of a SYN to the configured one (the first four
 * options are looked at). The checksum is fixed by a helper; nothing is locked. */
static __always_inline int lb_mss_clamp(struct __sk_buff *skb, const struct lb_pkt *p, __u32 l4, __u8 proto,
					__u8 fl)
{
	void *data = (void *)(long)skb->data;
	void *data_end = (void *)(long)skb->data_end;
	__u8 *tcp = data + l4;
	__u32 off = 20, doff;

	if (!(p->cfg_flags & CFG_MSS) || !p->mss || !(fl & LB_SYN) || proto != IPPROTO_TCP)
		return 0;
	if ((void *)(tcp + 20) > data_end)
		return 0;
	doff = (tcp[12] >> 4) * 4;
#pragma unroll
	for (int i = 0; i < 4; i++) {
		__u8 *o = tcp + off;
		__u16 mss;

		if (off + 4 > doff || (void *)(o + 4) > data_end)
			return 0;
		if (o[0] == 0)
			return 0;
		if (o[0] == 1) {
			off += 1;
			continue;
		}
		if (o[0] == 2 && o[1] == 4) {
			mss = o[2] << 8 | o[3];
			if (mss <= p->mss)
				return 0;
			mss = bpf_htons(p->mss);
			if (bpf_l4_csum_replace(skb, l4 + 16, *(__u16 *)(o + 2), mss, sizeof(mss)))
				return -1;
			if (bpf_skb_store_bytes(skb, l4 + off + 2, &mss, sizeof(mss), 0))
				return -1;
			lb_stat(ST_MSS, p);
			return 0;
		}
		if (o[1] < 2)
			return 0;
		off += o[1];
	}
	return 0;
}

/* lb_family runs every stage for one address family, from its L3 header at off. */
static __always_inline int lb_family(struct __sk_buff *skb, struct lb_pkt *p, void *data, void *data_end,
				     __u32 off, const int v6, const int variant)
{
	void *conns = v6 ? (void *)&lb_conns6 : (void *)&lb_conns4;
	void *revs = v6 ? (void *)&lb_revs6 : (void *)&lb_revs4;
	struct lb_flow f;
	struct lb_conn *c;
	__u32 l4;
	__u8 proto, fl, frag = 0;
	int ret, trusted = 0;
	__u32 mark = 0;

	p->l3_off = off;
	if (!v6) {
		struct iphdr *ip = data + off;

		if ((void *)(ip + 1) > data_end) {
			lb_stat(ST_SHORT, p);
			return TC_ACT_OK;
		}
		if (ip->ihl < 5 || ip->version != 4) {
			lb_stat(ST_BAD_L3, p);
			return TC_ACT_SHOT;
		}
		p->src[0] = ip->saddr;
		p->dst[0] = ip->daddr;
		p->proto = ip->protocol;
		p->ttl = ip->ttl;
		p->tos = ip->tos;
		frag = (ip->frag_off & bpf_htons(0x1fff)) != 0;
		p->frag = frag;
		l4 = off + ip->ihl * 4;
		lb_stat(ST_V4, p);
	} else {
		struct ipv6hdr *ip6 = data + off;
		__u8 next;

		if ((void *)(ip6 + 1) > data_end) {
			lb_stat(ST_SHORT, p);
			return TC_ACT_OK;
		}
		if (ip6->version != 6) {
			lb_stat(ST_BAD_L3, p);
			return TC_ACT_SHOT;
		}
#pragma unroll
		for (int i = 0; i < 4; i++) {
			p->src[i] = ip6->saddr.in6_u.u6_addr32[i];
			p->dst[i] = ip6->daddr.in6_u.u6_addr32[i];
		}
		p->ttl = ip6->hop_limit;
		p->tos = ip6->priority;
		next = ip6->nexthdr;
		l4 = off + sizeof(*ip6);
#pragma unroll
		for (int i = 0; i < LB_V6_EXT_HDRS; i++) {
			__u8 *e;

			if (next != IPPROTO_HOPOPTS && next != IPPROTO_ROUTING && next != IPPROTO_DSTOPTS &&
			    next != IPPROTO_FRAGMENT)
				break;
			e = data + l4;
			if ((void *)(e + 8) > data_end) {
				lb_stat(ST_SHORT, p);
				return TC_ACT_OK;
			}
			if (next == IPPROTO_FRAGMENT) {
				frag = (e[2] << 8 | e[3]) >> 3 != 0;
				p->frag = frag;
				next = e[0];
				l4 += 8;
			} else {
				next = e[0];
				l4 += (e[1] + 1) * 8;
			}
			lb_stat(ST_V6_EXT, p);
		}
		p->proto = next;
		lb_stat(ST_V6, p);
	}
	if (!lb_parse_l4(p, data, data_end, l4)) {
		lb_stat(ST_SHORT, p);
		return TC_ACT_OK;
	}
	proto = p->proto;
	fl = p->tcp_flags;

	if (frag) {
		lb_stat(ST_FRAG, p);
		if (p->cfg_flags & CFG_DROP_FRAGS)
			return TC_ACT_SHOT;
	}
	if (p->ttl <= 1) {
		lb_stat(ST_TTL, p);
		return TC_ACT_SHOT;
	}
	lb_count(&lb_qos, p->tos >> 2, p);
	if (p->vlan_depth)
		lb_count(&lb_vlans, p->vlan_id, p);
	ret = lb_health_check(p, proto, fl, v6);
	if (ret >= 0)
		return ret;
	p->hash = lb_hash(p, v6);
	if (!lb_rate_limit(p)) {
		lb_stat(ST_RATE_DROP, p);
		return TC_ACT_SHOT;
	}
	ret = lb_acl(skb, p, &trusted, &mark, v6);
	if (ret >= 0)
		return ret;

	if (proto == (v6 ? IPPROTO_ICMPV6 : IPPROTO_ICMP))
		lb_icmp_error(skb, p, l4, conns, v6);

	lb_flow_of(&f, p, v6);
	c = bpf_map_lookup_elem(conns, &f);
	if (c) {
		lb_stat(ST_CT_HIT, p);
		ret = lb_conn_update(p, c, proto, fl, v6, 0, variant);
		if (ret >= 0)
			return ret;
	} else if ((c = bpf_map_lookup_elem(revs, &f))) {
		/* a backend's reply: back to the client from the service's address */
		lb_stat(ST_REPLY, p);
		ret = lb_conn_update(p, c, proto, fl, v6, 1, variant);
		if (ret >= 0)
			return ret;
		ret = lb_reply(skb, p, c, proto, v6);
		if (ret >= 0)
			return ret;
		lb_account(p);
		lb_sample(p);
		lb_stat(ST_TX, p);
		return TC_ACT_OK;
	} else {
		lb_stat(ST_CT_MISS, p);
		if (proto == IPPROTO_TCP && !(fl & LB_SYN)) {
			lb_stat(ST_CT_INVALID, p);
			return TC_ACT_SHOT;
		}
		if (proto == IPPROTO_TCP && !trusted) {
			ret = lb_syn_guard(p, v6);
			if (ret >= 0)
				return ret;
		}
		ret = lb_select(p, v6);
		if (ret >= 0)
			return ret;
		if (!trusted) {
			ret = lb_policy(p, v6);
			if (ret >= 0)
				return ret;
		}
		ret = lb_new_conn(p, &f, conns, revs, v6);
		if (ret >= 0)
			return ret;
	}
	if (!trusted) {
		ret = lb_quota(p);
		if (ret >= 0)
			return ret;
	}
	if (!frag && lb_mss_clamp(skb, p, l4, proto, fl)) {
		lb_stat(ST_NAT_FAIL, p);
		return TC_ACT_SHOT;
	}
	ret = lb_nat(skb, p, proto, v6, variant);
	if (ret >= 0)
		return ret;
	lb_account(p);
	if (mark)
		skb->mark = mark;
	skb->tc_classid = p->backend;
	lb_sample(p);
	lb_stat(ST_TX, p);
	return TC_ACT_OK;
}

/* lb_main: the whole datapath, from the Ethernet header to the verdict. */
static __always_inline int lb_main(struct __sk_buff *skb, const int variant)
{
	void *data = (void *)(long)skb->data;
	void *data_end = (void *)(long)skb->data_end;
	struct ethhdr *eth = data;
	struct lb_pkt *p;
	struct lb_cfg *cfg;
	__u32 zero = 0, off = sizeof(*eth), max_len = 0;
	__be16 proto;

	p = bpf_map_lookup_elem(&lb_scratch, &zero);
	if (!p)
		return TC_ACT_OK;
	__builtin_memset(p, 0, sizeof(*p));
	p->len = skb->len;
	p->now = bpf_ktime_get_ns();
	cfg = bpf_map_lookup_elem(&lb_cfg, &zero);
	if (cfg) {
		bpf_spin_lock(&cfg->lock);
		cfg->packets++;
		cfg->last_ns = p->now;
		p->cfg_flags = cfg->flags;
		max_len = cfg->max_len;
		p->sample_rate = cfg->sample_rate;
		p->hc_port = cfg->hc_port;
		p->mss = cfg->mss;
		p->syn_limit = cfg->syn_limit;
		bpf_spin_unlock(&cfg->lock);
	}
	lb_stat(ST_RX, p);
	if (max_len && p->len > max_len) {
		lb_stat(ST_SHORT, p);
		return TC_ACT_SHOT;
	}
	if ((void *)(eth + 1) > data_end) {
		lb_stat(ST_SHORT, p);
		return TC_ACT_OK;
	}
	proto = eth->h_proto;
#pragma unroll
	for (int i = 0; i < 2; i++) {
		struct vlan_hdr *vh;

		if (proto != bpf_htons(ETH_P_8021Q) && proto != bpf_htons(ETH_P_8021AD))
			break;
		vh = data + off;
		if ((void *)(vh + 1) > data_end) {
			lb_stat(ST_SHORT, p);
			return TC_ACT_OK;
		}
		p->vlan_id = bpf_ntohs(vh->tci) & 0xfff;
		p->vlan_depth++;
		proto = vh->encap;
		off += sizeof(*vh);
		lb_stat(ST_VLAN, p);
	}
	if (proto == bpf_htons(ETH_P_IP))
		return lb_family(skb, p, data, data_end, off, 0, variant);
	if (proto == bpf_htons(ETH_P_IPV6))
		return lb_family(skb, p, data, data_end, off, 1, variant);
	lb_stat(ST_NOT_IP, p);
	return TC_ACT_OK;
}

/* Loads: every lock is released before every exit. */
SEC("tc")
int big_lb(struct __sk_buff *skb)
{
	return lb_main(skb, LB_OK);
}

/* I6b: the same, except that an RST on a closing IPv6 TCP connection returns with the
 * connection's lock held (lb_conn_update). */
SEC("tc")
int big_lb_exit_locked(struct __sk_buff *skb)
{
	return lb_main(skb, LB_EXIT_LOCKED);
}

/* I1: the same, except that the IPv4 NAT stage reads the clock under the backend's lock
 * (lb_nat). */
SEC("tc")
int big_lb_helper_locked(struct __sk_buff *skb)
{
	return lb_main(skb, LB_HELPER_LOCKED);
}
