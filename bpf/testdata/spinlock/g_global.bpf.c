// SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause)
/* Rules G2, G3 (its fix), G4 and I5 for locks in global data. Each lock sits alone in its
 * own DATASEC, so each program here only references the sections it is about. */
#include "slcorpus.h"

char LICENSE[] SEC("license") = "Dual BSD/GPL";

/* G2: one lock and its data in .bss.g2. */
struct bpf_spin_lock g2_lock SEC(".bss.g2");
__u64 g2_count SEC(".bss.g2");

/* G3's fix: one lock per section. */
struct bpf_spin_lock lock_a SEC(".bss.A");
__u64 count_a SEC(".bss.A");
struct bpf_spin_lock lock_b SEC(".bss.B");
__u64 count_b SEC(".bss.B");

/* A counter in plain .bss, beside no lock. */
__u64 plain_count;

/* G4: a lock in read-only data. A const lock (the usual way to land in .rodata) is not
 * seen as a lock at all: the kernel does not look through the const modifier of the VAR.
 * A non-const lock forced into a .rodata section is seen, and the read-only map is refused
 * (-EACCES), so libbpf retries it without BTF: M3. */
const struct bpf_spin_lock ro_const_lock SEC(".rodata.ro");
struct bpf_spin_lock ro_lock SEC(".rodata.nc") = {};

/* G2 twin of G1 (6.1): lock and unlock a global lock. */
SEC("tc")
int g2_global_lock(void *ctx)
{
	bpf_spin_lock(&g2_lock);
	g2_count++;
	bpf_spin_unlock(&g2_lock);
	return 0;
}

/* G3 twin: two locks, each in its own section, taken one after the other. */
SEC("tc")
int g3_two_sections(void *ctx)
{
	bpf_spin_lock(&lock_a);
	count_a++;
	bpf_spin_unlock(&lock_a);
	bpf_spin_lock(&lock_b);
	count_b++;
	bpf_spin_unlock(&lock_b);
	return 0;
}

/* I5: take lock_a, release lock_b. */
SEC("tc")
int g_unlock_other(void *ctx)
{
	bpf_spin_lock(&lock_a);
	count_a++;
	bpf_spin_unlock(&lock_b);
	return 0;
}

/* G4: lock a const lock in .rodata. */
SEC("tc")
int g4_rodata_const_lock(void *ctx)
{
	bpf_spin_lock((struct bpf_spin_lock *)&ro_const_lock);
	bpf_spin_unlock((struct bpf_spin_lock *)&ro_const_lock);
	return 0;
}

/* G4 (M3): lock a non-const lock placed in a .rodata section. */
SEC("tc")
int g4_rodata_lock(void *ctx)
{
	bpf_spin_lock(&ro_lock);
	bpf_spin_unlock(&ro_lock);
	return 0;
}

/* P2: a tracepoint that takes a global lock. */
SEC("tp/syscalls/sys_enter_write")
int tp_global_lock(void *ctx)
{
	bpf_spin_lock(&g2_lock);
	g2_count++;
	bpf_spin_unlock(&g2_lock);
	return 0;
}

/* P2: a tracepoint that only bumps a counter that shares its section with a lock: the
 * section is one map, and its value holds the lock. */
SEC("tp/syscalls/sys_enter_write")
int tp_global_counter(void *ctx)
{
	__sync_fetch_and_add(&g2_count, 1);
	return 0;
}

/* P2 twin: the same counter in plain .bss. */
SEC("tp/syscalls/sys_enter_write")
int tp_plain_counter(void *ctx)
{
	__sync_fetch_and_add(&plain_count, 1);
	return 0;
}
