// SPDX-License-Identifier: Apache-2.0

package maps

// SpinLock stands in a Go value struct where the C value has its struct bpf_spin_lock
// (4 bytes, 4-byte aligned). User space never takes the lock itself: the *Locked
// operations ask the kernel to (BPF_F_LOCK), and the kernel neither reads nor writes the
// lock word when it copies the value. Leave it zero.
type SpinLock struct {
	_ uint32
}
