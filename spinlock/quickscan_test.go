// SPDX-License-Identifier: Apache-2.0

package spinlock

import (
	"debug/elf"
	"errors"
	"os"
	"path/filepath"
	"slices"
	"testing"

	"github.com/bpfkit/bpfkit/internal/objfile"
	"github.com/bpfkit/bpfkit/internal/sys"
)

// TestNothingToCheck: the raw-bytes scan lets an object without locks skip the analysis,
// and never skips a corpus object (each has lock types in its BTF or lock calls).
func TestNothingToCheck(t *testing.T) {
	minimal, err := os.ReadFile(filepath.Join("..", "bpf", "minimal.bpf.o"))
	if err != nil {
		t.Fatal(err)
	}
	if objfile.MentionsLocks(mustOpenELF(t, minimal)) {
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
		if !objfile.MentionsLocks(mustOpenELF(t, b)) {
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

// TestLockTypeNames: the raw scan looks for every special type the check knows.
func TestLockTypeNames(t *testing.T) {
	for name := range sys.FieldKinds {
		if !slices.Contains(objfile.LockTypeNames, name) {
			t.Errorf("objfile.LockTypeNames lacks %q: an object with only that type would skip the check", name)
		}
	}
}
