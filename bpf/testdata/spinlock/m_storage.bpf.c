// SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause)
/* Twins of rule M2: the local-storage map types that may hold a lock, locked from program
 * types that can reach them (SK_STORAGE and CGROUP_STORAGE from cgroup_skb, TASK_STORAGE
 * from tp_btf). */
#include "slcorpus.h"

char LICENSE[] SEC("license") = "Dual BSD/GPL";

struct {
	__uint(type, BPF_MAP_TYPE_SK_STORAGE);
	__uint(map_flags, BPF_F_NO_PREALLOC);
	__type(key, int);
	__type(value, struct locked_val);
} sk_stor SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_CGROUP_STORAGE);
	__type(key, struct bpf_cgroup_storage_key);
	__type(value, struct locked_val);
} cg_stor SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_TASK_STORAGE);
	__uint(map_flags, BPF_F_NO_PREALLOC);
	__type(key, int);
	__type(value, struct locked_val);
} task_stor SEC(".maps");

#define LOCK_VAL(v)                             \
	do {                                    \
		bpf_spin_lock(&(v)->lock);      \
		(v)->val++;                     \
		bpf_spin_unlock(&(v)->lock);    \
	} while (0)

/* M2 twin: SK_STORAGE may hold a lock. */
SEC("cgroup_skb/egress")
int sk_storage_lock(struct __sk_buff *skb)
{
	struct bpf_sock *sk = skb->sk;
	struct locked_val *v;

	if (!sk)
		return 1;
	sk = bpf_sk_fullsock(sk);
	if (!sk)
		return 1;
	v = bpf_sk_storage_get(&sk_stor, sk, 0, BPF_SK_STORAGE_GET_F_CREATE);
	if (!v)
		return 1;
	LOCK_VAL(v);
	return 1;
}

/* M2 twin: CGROUP_STORAGE may hold a lock. */
SEC("cgroup_skb/ingress")
int cgroup_storage_lock(struct __sk_buff *skb)
{
	struct locked_val *v = bpf_get_local_storage(&cg_stor, 0);

	LOCK_VAL(v);
	return 1;
}

/* M2 twin: TASK_STORAGE may hold a lock. */
SEC("tp_btf/sys_enter")
int task_storage_lock(void *ctx)
{
	struct task_struct *t = bpf_get_current_task_btf();
	struct locked_val *v;

	v = bpf_task_storage_get(&task_stor, t, 0, BPF_LOCAL_STORAGE_GET_F_CREATE);
	if (!v)
		return 0;
	LOCK_VAL(v);
	return 0;
}
