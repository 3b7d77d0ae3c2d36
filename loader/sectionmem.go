// SPDX-License-Identifier: Apache-2.0

package loader

// #include <sys/mman.h>
// #include <bpf/libbpf.h>
import "C"

import (
	"errors"
	"fmt"
	"log/slog"
	"os"
	"runtime"
	"sync"
	"sync/atomic"
	"unsafe"

	"golang.org/x/sys/unix"

	"github.com/bpfkit/bpfkit/internal/sys"
)

// Live section memory.
//
// After Load, a global-data map's memory is mapped into the process once (Map.mapped),
// and SetGlobal, Global, SetSection, ReadSection and MapSection all use that mapping.
// MapSection hands out a Go pointer into it, which the user may keep for as long as they
// like, also past Close. A pointer into an ordinary mmap(2) region would dangle once the
// region is unmapped, so the mapping is made over memory of the Go heap instead:
//
//   - allocate a []byte of the page-rounded map size plus one page, and mmap the map's fd
//     with MAP_SHARED|MAP_FIXED over the page-aligned range inside it. The garbage
//     collector keeps the whole allocation alive while any pointer refers into it
//     (interior pointers, such as the *T of MapSection, count), and never reads it (a
//     []byte holds no pointers).
//   - Close "detaches" the mapping: the bytes are copied out, anonymous private memory is
//     mapped over the same range (what the Go heap is made of), and the bytes copied back.
//     The kernel map loses the mapping's reference (so nothing of the object outlives
//     Close), and a pointer kept past Close reads the last values from ordinary memory.
//   - A finalizer on the allocation does the same remap, without the copy, if the Object
//     is never closed and the memory becomes unreachable, so that the runtime never
//     reuses heap memory that is still shared with the kernel. It is a finalizer and not
//     runtime.AddCleanup because a finalizer keeps the object's memory from being freed
//     until it has run (the object is freed by a later cycle); a cleanup runs after the
//     memory may already have been reused.
//   - If a remap fails, the allocation is kept reachable forever from leakedSections:
//     a leak, but never a heap page shared with the kernel handed out again.
//
// The Go heap is itself anonymous private read-write memory, so after the remap the
// range is what the runtime expects, and the kernel merges it back into the heap's
// mapping (the count of mappings does not grow). Unmapping the range instead would
// leave a hole in the heap; leaving a read-only .rodata mapping in place makes the
// runtime fault when it reuses the memory.
//
// This relies on Go's garbage collector not moving heap objects, which it has never done;
// runtime.heapObjectsCanMove exists so that code like this can check, and mapping refuses
// to proceed if it ever says true. cilium/ebpf's memory_unsafe.go (behind a build tag)
// uses the same technique.

//go:linkname heapObjectsCanMove runtime.heapObjectsCanMove
func heapObjectsCanMove() bool

// sectionMemory is a loaded global-data map's memory, mapped over a Go heap allocation.
type sectionMemory struct {
	base *byte  // the start of the allocation; holds it, carries the finalizer
	mem  []byte // the page-aligned range inside it where the map is mapped
	name string // the map's name, for errors
}

// leakedSections holds, forever, allocations whose mapping could not be undone.
var leakedSections struct {
	sync.Mutex
	list []*byte
}

func keepForever(base *byte) {
	leakedSections.Lock()
	leakedSections.list = append(leakedSections.list, base)
	leakedSections.Unlock()
}

// sectionFinalizers counts the mappings detached by the finalizer (for tests).
var sectionFinalizers atomic.Int64

// mapOverHeap maps size bytes (a multiple of the page size) of the map fd over a new Go
// heap allocation: read-only when readOnly (a frozen .rodata), else read-write.
func mapOverHeap(fd, size int, readOnly bool, name string) (*sectionMemory, error) {
	page := os.Getpagesize()
	if size <= 0 || size%page != 0 {
		return nil, fmt.Errorf("mapping map %q: size %d is not a positive multiple of the page size", name, size)
	}
	if heapObjectsCanMove() {
		return nil, fmt.Errorf("mapping map %q: this Go runtime may move heap objects, so map memory cannot live on the Go heap", name)
	}
	alloc := make([]byte, size+page)
	base := unsafe.SliceData(alloc)
	off := (uintptr(page) - uintptr(unsafe.Pointer(base))%uintptr(page)) % uintptr(page)
	mem := unsafe.Slice((*byte)(unsafe.Add(unsafe.Pointer(base), off)), size)

	prot := unix.PROT_READ | unix.PROT_WRITE
	if readOnly {
		prot = unix.PROT_READ
	}
	if err := remap(mem, fd, prot, unix.MAP_SHARED|unix.MAP_FIXED); err != nil {
		// A failed MAP_FIXED mmap may have left the range unmapped: make it plain
		// memory again before the allocation can be reused.
		if rerr := remapPrivate(mem); rerr != nil {
			keepForever(base)
			return nil, fmt.Errorf("mapping map %q: %w (restoring the Go heap range failed too, it is leaked: %v)", name, err, rerr)
		}
		return nil, fmt.Errorf("mapping map %q: %w", name, err)
	}
	runtime.SetFinalizer(base, detachFinalizer(off, uintptr(size), name))
	return &sectionMemory{base: base, mem: mem, name: name}, nil
}

// detachFinalizer returns the finalizer of an allocation whose range [off, off+size) is
// mapped from a map. It holds no pointer into the allocation, which would keep it alive.
func detachFinalizer(off, size uintptr, name string) func(*byte) {
	return func(base *byte) {
		mem := unsafe.Slice((*byte)(unsafe.Add(unsafe.Pointer(base), off)), size)
		if err := remapPrivate(mem); err != nil {
			keepForever(base) // resurrected for good: never reused while shared
			slog.Error("bpfkit: cannot detach the memory of a global-data map from the Go heap; it is leaked",
				"map", name, "error", err)
			return
		}
		sectionFinalizers.Add(1)
	}
}

// detach replaces the map's mapping by private memory holding the same bytes, so that
// pointers into it stay valid and the kernel map is no longer referenced. The caller
// holds the Object's write lock.
func (s *sectionMemory) detach() error {
	saved := make([]byte, len(s.mem))
	copy(saved, s.mem)
	if err := remapPrivate(s.mem); err != nil {
		keepForever(s.base)
		runtime.SetFinalizer(s.base, nil)
		return fmt.Errorf("detaching the memory of map %q: %w (the mapping and its map are leaked)", s.name, err)
	}
	copy(s.mem, saved)
	runtime.SetFinalizer(s.base, nil)
	return nil
}

// remapPrivate maps anonymous private read-write memory, as the Go heap's own, over mem.
func remapPrivate(mem []byte) error {
	return remap(mem, -1, unix.PROT_READ|unix.PROT_WRITE, unix.MAP_PRIVATE|unix.MAP_ANONYMOUS|unix.MAP_FIXED)
}

// remap is mmap(2) at mem's address, which must be page-aligned. It calls the C
// library's mmap: x/sys/unix.MmapPtr turns the returned address into an unsafe.Pointer
// from a uintptr, which checkptr (on under -race) rejects for an address in the Go heap.
func remap(mem []byte, fd, prot, flags int) error {
	addr := unsafe.Pointer(unsafe.SliceData(mem))
	got, err := C.mmap(addr, C.size_t(len(mem)), C.int(prot), C.int(flags), C.int(fd), 0)
	if uintptr(got) == ^uintptr(0) { // MAP_FAILED
		if err == nil {
			err = errors.New("mmap failed")
		}
		return err
	}
	if got != addr {
		return errors.New("mmap with MAP_FIXED returned another address")
	}
	return nil
}

// mapped returns the loaded global-data map's memory (page-rounded), mapping it on
// first use: shared and writable for .bss and .data, read-only for the frozen .rodata.
// Close detaches it (Map.detach). The caller runs it under Object.whileOpen.
func (m *Map) mapped() ([]byte, error) {
	m.mmapOnce.Do(func() {
		const bpfFMmapable = 1 << 10
		if uint32(C.bpf_map__map_flags(m.cm))&bpfFMmapable == 0 {
			m.mmapErr = fmt.Errorf("map %q was created without BPF_F_MMAPABLE (kernel < 5.5?)", m.name)
			return
		}
		size := int(C.bpf_map__value_size(m.cm))
		page := os.Getpagesize()
		size = (size + page - 1) / page * page
		m.mem, m.mmapErr = mapOverHeap(m.slot.Load().Raw(), size, sys.IsReadOnlySection(m.section), m.name)
	})
	if m.mmapErr != nil {
		return nil, m.mmapErr
	}
	return m.mem.mem, nil
}

// memory returns a global-data map's bytes: before load libbpf's copy of the initial
// value (bpf_map__initial_value), after load the map's memory in the kernel, mapped on
// first use (Map.mapped; page-rounded). The caller runs it under the object's read lock.
func (m *Map) memory() ([]byte, error) {
	if m.obj.loaded {
		return m.mapped()
	}
	var size C.size_t
	p := C.bpf_map__initial_value(m.cm, &size)
	if p == nil {
		return nil, fmt.Errorf("map %q has no initial value", m.name)
	}
	return unsafe.Slice((*byte)(p), size), nil
}

// detach undoes mapped (see sectionMemory.detach); the caller holds obj.mu for writing.
func (m *Map) detach() error {
	if m.mem == nil {
		return nil
	}
	err := m.mem.detach()
	m.mem = nil
	return err
}
