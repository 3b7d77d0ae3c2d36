// SPDX-License-Identifier: Apache-2.0

package sys

import (
	"errors"
	"os"
	"path/filepath"
	"testing"

	"golang.org/x/sys/unix"

	"github.com/bpfkit/bpfkit/internal/testutil"
)

// TestPinLeavesNothingBehind: a pin that fails after creating its directories on bpffs
// removes them again, and a path outside bpffs creates none.
func TestPinLeavesNothingBehind(t *testing.T) {
	testutil.RequirePrivileged(t)
	root := filepath.Join("/sys/fs/bpf", "bpfkit-sys-test")
	if err := os.MkdirAll(root, 0o700); err != nil {
		t.Fatalf("bpffs not mounted? %v", err)
	}
	t.Cleanup(func() { os.RemoveAll(root) })

	var p [2]int
	if err := unix.Pipe2(p[:], unix.O_CLOEXEC); err != nil {
		t.Fatal(err)
	}
	defer unix.Close(p[0])
	defer unix.Close(p[1])
	// a pipe is no BPF object: BPF_OBJ_PIN fails after the directories were made
	err := Pin(p[0], filepath.Join(root, "a", "b", "pin"))
	if err == nil {
		t.Fatal("pinning a pipe succeeded")
	}
	if _, err := os.Stat(filepath.Join(root, "a")); !errors.Is(err, os.ErrNotExist) {
		t.Fatalf("the failed pin left %s behind: %v", filepath.Join(root, "a"), err)
	}
	out := filepath.Join(t.TempDir(), "x", "y")
	if err := Pin(p[0], filepath.Join(out, "pin")); !errors.Is(err, ErrNotBPFFS) {
		t.Fatalf("pin outside bpffs: %v, want ErrNotBPFFS", err)
	}
	if _, err := os.Stat(filepath.Dir(out)); !errors.Is(err, os.ErrNotExist) {
		t.Fatalf("a pin outside bpffs created %s", filepath.Dir(out))
	}
}
