package loader_test

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
	"unsafe"

	"golang.org/x/sys/unix"

	"github.com/bpfkit/bpfkit/internal/testutil"
	"github.com/bpfkit/bpfkit/loader"
)

// testObject reads a compiled object of bpf/testdata/loader.
func testObject(tb testing.TB, name string) []byte {
	tb.Helper()
	b, err := os.ReadFile(filepath.Join("..", "bpf", "testdata", "loader", name))
	if err != nil {
		tb.Fatalf("reading test object (run `make bpf`): %v", err)
	}
	return b
}

// open opens a test object and closes it when the test ends.
func open(tb testing.TB, name string, elf []byte, opts *loader.Options) *loader.Object {
	tb.Helper()
	testutil.RequirePrivileged(tb)
	obj, err := loader.OpenBytes(name, elf, opts)
	if err != nil {
		tb.Fatalf("OpenBytes(%s): %v", name, err)
	}
	tb.Cleanup(func() { _ = obj.Close() })
	return obj
}

// openFDs counts the process's open file descriptors.
func openFDs(tb testing.TB) int {
	tb.Helper()
	ents, err := os.ReadDir("/proc/self/fd")
	if err != nil {
		tb.Fatal(err)
	}
	return len(ents)
}

// loadedPrograms lists the IDs of every BPF program loaded in the kernel
// (BPF_PROG_GET_NEXT_ID), to show that closing an object unloads its programs.
func loadedPrograms(tb testing.TB) map[uint32]bool {
	tb.Helper()
	const bpfProgGetNextID = 11
	ids := map[uint32]bool{}
	var attr struct{ start, next, flags uint32 }
	for {
		_, _, errno := unix.Syscall(unix.SYS_BPF, bpfProgGetNextID, uintptr(unsafe.Pointer(&attr)), unsafe.Sizeof(attr))
		if errno == unix.ENOENT {
			return ids
		}
		if errno != 0 {
			tb.Fatalf("BPF_PROG_GET_NEXT_ID: %v", errno)
		}
		ids[attr.next] = true
		attr.start = attr.next
	}
}

// containsAll reports which of the words s lacks.
func missingWords(s string, words ...string) []string {
	var miss []string
	for _, w := range words {
		if !strings.Contains(s, w) {
			miss = append(miss, w)
		}
	}
	return miss
}
