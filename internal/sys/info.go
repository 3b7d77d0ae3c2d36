// SPDX-License-Identifier: Apache-2.0

package sys

import (
	"fmt"
	"runtime"
	"unsafe"

	"golang.org/x/sys/unix"
)

// infoAttr is the bpf_attr of BPF_OBJ_GET_INFO_BY_FD.
type infoAttr struct {
	fd      uint32
	infoLen uint32
	info    uint64
}

// objInfo fills info (a struct bpf_*_info of size bytes) for fd. Older kernels fill a
// prefix and leave the rest zero.
func objInfo(fd int, info unsafe.Pointer, size uintptr) error {
	attr := infoAttr{fd: uint32(fd), infoLen: uint32(size), info: uint64(uintptr(info))}
	_, e := bpf(unix.BPF_OBJ_GET_INFO_BY_FD, unsafe.Pointer(&attr), unsafe.Sizeof(attr))
	runtime.KeepAlive(info)
	if e != 0 {
		return e
	}
	return nil
}

// MapInfo is struct bpf_map_info (kernel 5.16+ layout; older kernels fill a prefix).
type MapInfo struct {
	Type                  uint32
	ID                    uint32
	KeySize               uint32
	ValueSize             uint32
	MaxEntries            uint32
	MapFlags              uint32
	Name                  [16]byte
	Ifindex               uint32
	BTFVmlinuxValueTypeID uint32
	NetnsDev              uint64
	NetnsIno              uint64
	BTFID                 uint32
	BTFKeyTypeID          uint32
	BTFValueTypeID        uint32
	BTFVmlinuxID          uint32
	MapExtra              uint64
}

// ObjMapInfo reads struct bpf_map_info of a map fd (BPF_OBJ_GET_INFO_BY_FD).
func ObjMapInfo(fd int) (MapInfo, error) {
	var info MapInfo
	err := objInfo(fd, unsafe.Pointer(&info), unsafe.Sizeof(info))
	return info, err
}

// ObjID returns the kernel ID of the map, program or link behind fd: every struct
// bpf_*_info starts with its type and ID.
func ObjID(fd int) (uint32, error) {
	var head struct{ typ, id uint32 }
	if err := objInfo(fd, unsafe.Pointer(&head), unsafe.Sizeof(head)); err != nil {
		return 0, err
	}
	return head.id, nil
}

// LinkInfo is the part of struct bpf_link_info that bpfkit reads: the link's type,
// ID and program, and the fields of the union that name where the link is attached.
type LinkInfo struct {
	Type   uint32 // enum bpf_link_type
	ID     uint32
	ProgID uint32
	_      uint32
	// the union, read as words; see the accessors
	u [8]uint64
}

// ObjLinkInfo reads struct bpf_link_info of a link fd (kernel 5.8+).
func ObjLinkInfo(fd int) (LinkInfo, error) {
	var info LinkInfo
	err := objInfo(fd, unsafe.Pointer(&info), unsafe.Sizeof(info))
	return info, err
}

// The link types whose union LinkInfo decodes (enum bpf_link_type).
const (
	LinkTypeTracing = 2
	LinkTypeCgroup  = 3
	LinkTypeNetns   = 5
	LinkTypeXDP     = 6
	LinkTypeTCX     = 11
	LinkTypeNetkit  = 13
)

// Ifindex is the interface of an XDP, tcx or netkit link, 0 for other types.
func (i *LinkInfo) Ifindex() uint32 {
	switch i.Type {
	case LinkTypeXDP, LinkTypeTCX, LinkTypeNetkit:
		return uint32(i.u[0])
	}
	return 0
}

// AttachType is the attach type recorded by a tracing, cgroup, netns, tcx or netkit
// link (enum bpf_attach_type), and ok false for the types that record none.
func (i *LinkInfo) AttachType() (uint32, bool) {
	switch i.Type {
	case LinkTypeTracing:
		return uint32(i.u[0]), true
	case LinkTypeCgroup:
		return uint32(i.u[1]), true
	case LinkTypeNetns, LinkTypeTCX, LinkTypeNetkit:
		return uint32(i.u[0] >> 32), true
	}
	return 0, false
}

// CgroupID is the cgroup of a cgroup link, 0 for other types.
func (i *LinkInfo) CgroupID() uint64 {
	if i.Type == LinkTypeCgroup {
		return i.u[0]
	}
	return 0
}

// LinkTypeName is the kernel's name of a link type (enum bpf_link_type, lower case,
// without BPF_LINK_TYPE_), as bpftool prints it.
func LinkTypeName(t uint32) string {
	names := [...]string{"unspec", "raw_tracepoint", "tracing", "cgroup", "iter", "netns", "xdp",
		"perf_event", "kprobe_multi", "struct_ops", "netfilter", "tcx", "uprobe_multi", "netkit", "sockmap"}
	if int(t) < len(names) {
		return names[t]
	}
	return fmt.Sprintf("link_type(%d)", t)
}

// ObjBTFID returns the kernel ID of the BTF object behind fd (struct bpf_btf_info: the
// BTF's address and size come first, then its ID).
func ObjBTFID(fd int) (uint32, error) {
	var info struct {
		btf     uint64
		btfSize uint32
		id      uint32
	}
	if err := objInfo(fd, unsafe.Pointer(&info), unsafe.Sizeof(info)); err != nil {
		return 0, err
	}
	return info.id, nil
}

// ProgInfo is the head of struct bpf_prog_info, up to the program's name.
type ProgInfo struct {
	Type            uint32
	ID              uint32
	Tag             [8]byte
	JitedProgLen    uint32
	XlatedProgLen   uint32
	JitedProgInsns  uint64
	XlatedProgInsns uint64
	LoadTime        uint64
	CreatedByUID    uint32
	NrMapIDs        uint32
	MapIDs          uint64
	Name            [16]byte
}

// ObjProgInfo reads the head of struct bpf_prog_info of a program fd (the kernel fills
// no pointer field: they are left 0).
func ObjProgInfo(fd int) (ProgInfo, error) {
	var info ProgInfo
	err := objInfo(fd, unsafe.Pointer(&info), unsafe.Sizeof(info))
	return info, err
}
