// SPDX-License-Identifier: Apache-2.0

package loader_test

import (
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"
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

// programID returns the kernel's ID of a loaded program (BPF_OBJ_GET_INFO_BY_FD).
func programID(tb testing.TB, fd int) uint32 {
	tb.Helper()
	const bpfObjGetInfoByFD = 15
	var info struct{ typ, id uint32 } // the head of struct bpf_prog_info
	attr := struct {
		fd, infoLen uint32
		info        uint64
	}{uint32(fd), uint32(unsafe.Sizeof(info)), uint64(uintptr(unsafe.Pointer(&info)))}
	if _, _, errno := unix.Syscall(unix.SYS_BPF, bpfObjGetInfoByFD, uintptr(unsafe.Pointer(&attr)), unsafe.Sizeof(attr)); errno != 0 {
		tb.Fatalf("BPF_OBJ_GET_INFO_BY_FD: %v", errno)
	}
	return info.id
}

// programExists, mapExists and linkExists report whether a program, map or link with
// this ID is still in the kernel.
func programExists(tb testing.TB, id uint32) bool {
	tb.Helper()
	return idExists(tb, unix.BPF_PROG_GET_FD_BY_ID, "BPF_PROG_GET_FD_BY_ID", id)
}

func mapExists(tb testing.TB, id uint32) bool {
	tb.Helper()
	return idExists(tb, unix.BPF_MAP_GET_FD_BY_ID, "BPF_MAP_GET_FD_BY_ID", id)
}

func linkExists(tb testing.TB, id uint32) bool {
	tb.Helper()
	return idExists(tb, unix.BPF_LINK_GET_FD_BY_ID, "BPF_LINK_GET_FD_BY_ID", id)
}

// idExists runs cmd, a BPF_*_GET_FD_BY_ID command named name, for id: true when it
// opens the object (then closed), false on ENOENT; any other error fails the test.
func idExists(tb testing.TB, cmd uintptr, name string, id uint32) bool {
	tb.Helper()
	attr := struct{ id, next, flags uint32 }{id: id}
	fd, _, errno := unix.Syscall(unix.SYS_BPF, cmd, uintptr(unsafe.Pointer(&attr)), unsafe.Sizeof(attr))
	switch errno {
	case 0:
		unix.Close(int(fd))
		return true
	case unix.ENOENT:
		return false
	}
	tb.Fatalf("%s %d: %v", name, id, errno)
	return false
}

// missingWords returns the words s lacks.
func missingWords(s string, words ...string) []string {
	var miss []string
	for _, w := range words {
		if !strings.Contains(s, w) {
			miss = append(miss, w)
		}
	}
	return miss
}

// mapID returns the kernel's ID of a map (BPF_OBJ_GET_INFO_BY_FD; struct bpf_map_info
// starts like struct bpf_prog_info, with the type and the ID).
func mapID(tb testing.TB, fd int) uint32 {
	tb.Helper()
	return programID(tb, fd)
}

// waitMapGone waits up to 2 s for the kernel to free the map with this ID: it frees a
// map from deferred work once the last reference (fd, program, mapping) is gone.
func waitMapGone(tb testing.TB, id uint32) {
	tb.Helper()
	deadline := time.Now().Add(2 * time.Second)
	for mapExists(tb, id) {
		if time.Now().After(deadline) {
			tb.Fatalf("map ID %d is still in the kernel 2s after its last reference should have gone", id)
		}
		time.Sleep(5 * time.Millisecond)
	}
}

// procMaps returns the lines of /proc/self/maps.
func procMaps(tb testing.TB) []string {
	tb.Helper()
	b, err := os.ReadFile("/proc/self/maps")
	if err != nil {
		tb.Fatal(err)
	}
	return strings.Split(strings.TrimSpace(string(b)), "\n")
}

// mappingAt returns the line of /proc/self/maps whose range holds addr ("" if none).
func mappingAt(tb testing.TB, addr uintptr) string {
	tb.Helper()
	for _, l := range procMaps(tb) {
		var lo, hi uintptr
		if _, err := fmt.Sscanf(l, "%x-%x", &lo, &hi); err == nil && lo <= addr && addr < hi {
			return l
		}
	}
	return ""
}

// bpfMappings counts the process's mappings of BPF maps.
func bpfMappings(tb testing.TB) int {
	tb.Helper()
	n := 0
	for _, l := range procMaps(tb) {
		if strings.HasSuffix(l, "anon_inode:bpf-map") {
			n++
		}
	}
	return n
}
