// SPDX-License-Identifier: Apache-2.0

package spinlock

import (
	"debug/elf"
	"encoding/binary"
	"errors"
	"os"
	"path/filepath"
	"testing"
)

// TestNothingToCheck: the raw-bytes scan lets an object without locks skip the analysis,
// and never skips a corpus object (each has lock types in its BTF or lock calls).
func TestNothingToCheck(t *testing.T) {
	minimal, err := os.ReadFile(filepath.Join("..", "bpf", "minimal.bpf.o"))
	if err != nil {
		t.Fatal(err)
	}
	if !nothingToCheck(mustOpenELF(t, minimal)) {
		t.Error("minimal.bpf.o has no lock, timer or lock call, yet the scan asks for analysis")
	}
	objs, _ := filepath.Glob(filepath.Join(corpusDir, "*.bpf.o"))
	if len(objs) == 0 {
		t.Fatal("no corpus objects")
	}
	for _, path := range objs {
		b, err := os.ReadFile(path)
		if err != nil {
			t.Fatal(err)
		}
		if nothingToCheck(mustOpenELF(t, b)) {
			t.Errorf("%s: the scan would skip the analysis of a corpus object", filepath.Base(path))
		}
	}
	if _, err := Check([]byte("not an ELF"), nil); !errors.Is(err, ErrUnreadable) {
		t.Errorf("unreadable input: %v, want ErrUnreadable, not an empty report", err)
	}
}

func mustOpenELF(t *testing.T, b []byte) *elf.File {
	t.Helper()
	f, err := openELF(b)
	if err != nil {
		t.Fatal(err)
	}
	return f
}

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
