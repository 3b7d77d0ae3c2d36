// SPDX-License-Identifier: Apache-2.0

package sys

import (
	"runtime"
	"unsafe"

	"golang.org/x/sys/unix"
)

// linkCreateAttr is the bpf_attr of BPF_LINK_CREATE: program, target (fd or ifindex),
// attach type and flags, then a union whose layout depends on the attach type.
type linkCreateAttr struct {
	progFD     uint32
	target     uint32
	attachType uint32
	flags      uint32
	u          [6]uint64
}

// Attach flags (BPF_F_* of include/uapi/linux/bpf.h) used with BPF_LINK_CREATE.
const (
	BPF_F_BEFORE = 1 << 3
	BPF_F_AFTER  = 1 << 4
	BPF_F_ID     = 1 << 5
	BPF_F_LINK   = 1 << 13
)

// LinkCreate makes a BPF link of program progFD to target (an interface index, a cgroup
// or perf event fd …) for attachType, and returns the link's fd (kernel 5.7+).
func LinkCreate(progFD, target int, attachType, flags uint32) (int, error) {
	attr := linkCreateAttr{progFD: uint32(progFD), target: uint32(target), attachType: attachType, flags: flags}
	return linkCreate(&attr)
}

// LinkCreateTCX makes a tcx (or netkit) link on interface ifindex, placed relative to
// relative (a program or link fd or ID, as flags say; 0 for none) and only if the
// hook's revision is expectedRevision (0: any) (kernel 6.6+).
func LinkCreateTCX(progFD, ifindex int, attachType, flags, relative uint32, expectedRevision uint64) (int, error) {
	attr := linkCreateAttr{progFD: uint32(progFD), target: uint32(ifindex), attachType: attachType, flags: flags}
	attr.u[0] = uint64(relative)
	attr.u[1] = expectedRevision
	return linkCreate(&attr)
}

// LinkCreatePerfEvent makes a link of program progFD to the perf event perfFD (a
// kprobe, uprobe, tracepoint or perf event), whose program reads cookie with
// bpf_get_attach_cookie (kernel 5.15+).
func LinkCreatePerfEvent(progFD, perfFD int, cookie uint64) (int, error) {
	const bpfPerfEvent = 41 // BPF_PERF_EVENT
	attr := linkCreateAttr{progFD: uint32(progFD), target: uint32(perfFD), attachType: bpfPerfEvent}
	attr.u[0] = cookie
	return linkCreate(&attr)
}

func linkCreate(attr *linkCreateAttr) (int, error) {
	r, e := bpf(unix.BPF_LINK_CREATE, unsafe.Pointer(attr), unsafe.Sizeof(*attr))
	if e != 0 {
		return -1, e
	}
	return int(r), nil
}

// linkUpdateAttr is the bpf_attr of BPF_LINK_UPDATE.
type linkUpdateAttr struct {
	linkFD    uint32
	newProgFD uint32
	flags     uint32
	oldProgFD uint32
}

// BPF_F_REPLACE makes LinkUpdate replace only the program oldProgFD.
const BPF_F_REPLACE = 1 << 2

// LinkUpdate replaces the program of link linkFD by newProgFD; with BPF_F_REPLACE only if
// the link's program is oldProgFD (kernel 5.7+; the link types that support it).
func LinkUpdate(linkFD, newProgFD int, flags uint32, oldProgFD int) error {
	attr := linkUpdateAttr{linkFD: uint32(linkFD), newProgFD: uint32(newProgFD), flags: flags}
	if flags&BPF_F_REPLACE != 0 {
		attr.oldProgFD = uint32(oldProgFD)
	}
	if _, e := bpf(unix.BPF_LINK_UPDATE, unsafe.Pointer(&attr), unsafe.Sizeof(attr)); e != 0 {
		return e
	}
	return nil
}

// LinkDetach detaches link linkFD from its target while the fd stays open: the link
// becomes defunct (kernel 5.9+).
func LinkDetach(linkFD int) error {
	attr := struct{ linkFD uint32 }{uint32(linkFD)}
	if _, e := bpf(unix.BPF_LINK_DETACH, unsafe.Pointer(&attr), unsafe.Sizeof(attr)); e != 0 {
		return e
	}
	return nil
}

// rawTPAttr is the bpf_attr of BPF_RAW_TRACEPOINT_OPEN.
type rawTPAttr struct {
	name   uint64
	progFD uint32
	_      uint32
	cookie uint64
}

// RawTracepointOpen attaches program progFD to the raw tracepoint name, with a cookie
// for bpf_get_attach_cookie (kernel 6.10+; older kernels refuse a non-zero cookie with
// EINVAL), and returns the link's fd.
func RawTracepointOpen(progFD int, name string, cookie uint64) (int, error) {
	p, err := unix.BytePtrFromString(name)
	if err != nil {
		return -1, err
	}
	attr := rawTPAttr{name: uint64(uintptr(unsafe.Pointer(p))), progFD: uint32(progFD), cookie: cookie}
	r, e := bpf(unix.BPF_RAW_TRACEPOINT_OPEN, unsafe.Pointer(&attr), unsafe.Sizeof(attr))
	runtime.KeepAlive(p)
	if e != 0 {
		return -1, e
	}
	return int(r), nil
}

// queryAttr is the bpf_attr of BPF_PROG_QUERY.
type queryAttr struct {
	target          uint32
	attachType      uint32
	queryFlags      uint32
	attachFlags     uint32
	progIDs         uint64
	count           uint32
	_               uint32
	progAttachFlags uint64
	linkIDs         uint64
	linkAttachFlags uint64
	revision        uint64
}

// ProgQuery lists the programs attached at a multi-program hook (an interface index
// for tcx and netkit, a cgroup fd …) in the order they run, and the hook's revision
// (kernel 6.6+ for the revision).
func ProgQuery(target int, attachType uint32) (progIDs []uint32, revision uint64, err error) {
	ids := make([]uint32, 64)
	attr := queryAttr{target: uint32(target), attachType: attachType,
		progIDs: uint64(uintptr(unsafe.Pointer(&ids[0]))), count: uint32(len(ids))}
	_, e := bpf(unix.BPF_PROG_QUERY, unsafe.Pointer(&attr), unsafe.Sizeof(attr))
	runtime.KeepAlive(ids)
	if e != 0 {
		return nil, 0, e
	}
	return ids[:min(attr.count, uint32(len(ids)))], attr.revision, nil
}
