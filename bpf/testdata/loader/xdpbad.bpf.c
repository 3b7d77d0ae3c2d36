// SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause)
/* An XDP program the verifier rejects for reading one byte past the packet bound it
 * checked, for VerifierError's explanation and source line. */
#include <linux/bpf.h>
#include <bpf/bpf_helpers.h>

char LICENSE[] SEC("license") = "Dual BSD/GPL";

SEC("xdp")
int xdp_bad(struct xdp_md *ctx)
{
	void *data = (void *)(long)ctx->data;
	void *data_end = (void *)(long)ctx->data_end;

	if (data + 12 > data_end)
		return XDP_PASS;
	if (*(__u8 *)(data + 12) == 0) /* byte 12 is past the 12 checked */
		return XDP_DROP;
	return XDP_PASS;
}
