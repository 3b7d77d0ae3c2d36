// SPDX-License-Identifier: Apache-2.0

package objfile

import (
	"encoding/binary"
	"testing"
)

func TestCallsSpinLockHelper(t *testing.T) {
	insn := func(code, regs byte, imm int32) []byte {
		b := make([]byte, 8)
		b[0], b[1] = code, regs
		binary.LittleEndian.PutUint32(b[4:], uint32(imm))
		return b
	}
	cat := func(parts ...[]byte) (out []byte) {
		for _, p := range parts {
			out = append(out, p...)
		}
		return out
	}
	tests := []struct {
		name string
		code []byte
		want bool
	}{
		{"helper bpf_spin_lock", cat(insn(0xb7, 0, 0), insn(0x85, 0, 93)), true},
		{"helper bpf_spin_unlock", insn(0x85, 0, 94), true},
		{"bpf-to-bpf call to insn 93", insn(0x85, 0x10, 93), false},
		{"kfunc with BTF id 93", insn(0x85, 0x20, 93), false},
		{"other helper", insn(0x85, 0, 1), false},
		{"ld_imm64 whose second half holds 0x85 in imm", cat(insn(0x18, 0x01, 0), insn(0, 0, 0x85)), false},
		{"truncated", insn(0x85, 0, 93)[:7], false},
	}
	for _, tt := range tests {
		if got := callsSpinLockHelper(tt.code, binary.LittleEndian); got != tt.want {
			t.Errorf("%s: got %v, want %v", tt.name, got, tt.want)
		}
	}
	be := make([]byte, 8)
	be[0], be[1] = 0x85, 0x00
	binary.BigEndian.PutUint32(be[4:], 93)
	if !callsSpinLockHelper(be, binary.BigEndian) {
		t.Error("big-endian helper call not found")
	}
}

// TestReadableName: the sections cilium/ebpf's reader does not know get a name of the
// same length that it reads as global data; others keep theirs.
func TestReadableName(t *testing.T) {
	for in, want := range map[string]string{
		".bss.A":          ".dataA",
		".bss.counters":   ".datacounters",
		".addr_space.1":   ".data.arena.1",
		".addr_space.255": ".data.arena.255",
		".bss":            "",
		".bss.":           "",
		".addr_space.":    "",
		".data":           "",
		".rodata.str1.1":  "",
	} {
		got, ok := readableName(in)
		if ok != (want != "") || got != want {
			t.Errorf("readableName(%q) = %q, %v; want %q", in, got, ok, want)
		}
		if ok && len(got) != len(in) {
			t.Errorf("readableName(%q) = %q: not the same length", in, got)
		}
	}
}
