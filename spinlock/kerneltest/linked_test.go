// SPDX-License-Identifier: Apache-2.0

package kerneltest

import (
	"os"
	"path/filepath"
	"testing"

	"github.com/bpfkit/bpfkit/internal/testutil"
)

// weakHeader is a __weak global function in a header that two parts of one program
// include, as sched_ext's parts include bpf_arena_spin_lock.h.
const weakHeader = `__noinline __weak int wslow(int x) { return (x << 2) - 1; }
`

const partA = `// SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause)
#include <linux/bpf.h>
#include <bpf/bpf_helpers.h>
#include "weak.h"

/* defined __weak here and strong in part B (scx_lavd's is_autopilot_on): libbpf's linker
 * moves the symbol to the strong copy and leaves the DATASEC at the weak copy's offset */
const volatile __u32 pad_a = 1;
const volatile _Bool __weak flag;

SEC("tc") int part_a(struct __sk_buff *skb) { return flag ? wslow(skb->len) : pad_a; }
char LICENSE[] SEC("license") = "Dual BSD/GPL";
`

// partB calls a static function while holding the lock: allowed (since 6.9). In the
// linked object, libbpf's linker keeps part B's copy of wslow without its symbol, and
// before the check read past such gaps the static function took the BTF of the global
// one before it: a false I1a.
const partB = `// SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause)
#include <linux/bpf.h>
#include <bpf/bpf_helpers.h>
#include "weak.h"

struct val { struct bpf_spin_lock lock; __u32 n; };
struct {
	__uint(type, BPF_MAP_TYPE_ARRAY);
	__uint(max_entries, 1);
	__type(key, __u32);
	__type(value, struct val);
} m __weak SEC(".maps");

const volatile __u64 pad_b[4] = {1, 2, 3, 4};
const volatile _Bool flag;

static __noinline int bump(struct val *v)
{
	v->n++;
	return 0;
}

SEC("tc") int part_b(struct __sk_buff *skb)
{
	__u32 k = 0;
	struct val *v = bpf_map_lookup_elem(&m, &k);

	if (!v)
		return 0;
	bpf_spin_lock(&v->lock);
	bump(v);
	bpf_spin_unlock(&v->lock);
	return wslow(1) + flag + pad_b[1];
}

/* the map is defined __weak, as sched_ext's libraries define theirs: the kernel still
 * refuses an exit that holds its lock, and the check must still see it */
SEC("tc") int part_b_no_unlock(struct __sk_buff *skb)
{
	__u32 k = 0;
	struct val *v = bpf_map_lookup_elem(&m, &k);

	if (!v)
		return 0;
	bpf_spin_lock(&v->lock);
	v->n++;
	return 0;
}
`

// TestLinkedParts: a program linked from parts with bpftool gen object, as sched_ext's
// schedulers are (two copies of a __weak function, a map defined __weak, a variable
// defined __weak in one part and strong in the other), is read by the
// check as libbpf reads it: each verdict agrees with the running kernel's.
func TestLinkedParts(t *testing.T) {
	kernel := requireKernel(t)
	if !kernel.AtLeast(6, 9) {
		t.Skipf("calls under a lock came with 6.9; this kernel is %s", kernel)
	}
	elf := object(t, "linked", func(dir string) []byte {
		if err := os.WriteFile(filepath.Join(dir, "weak.h"), []byte(weakHeader), 0o644); err != nil {
			t.Fatal(err)
		}
		testutil.CompileBPF(t, dir, "part_a", partA)
		testutil.CompileBPF(t, dir, "part_b", partB)
		return testutil.LinkBPF(t, dir, "linked", filepath.Join(dir, "part_a.bpf.o"), filepath.Join(dir, "part_b.bpf.o"))
	})
	agreeWithKernel(t, kernel, "linked.bpf.o", elf,
		map[string]string{"part_a": "", "part_b": "", "part_b_no_unlock": "I6b"})
}
