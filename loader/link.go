// SPDX-License-Identifier: Apache-2.0

package loader

/*
#include <stdlib.h>
#include "bpfkit.h"
*/
import "C"

import (
	"errors"
	"fmt"
	"strings"
	"sync/atomic"
	"syscall"

	"github.com/cilium/ebpf/link"
	"golang.org/x/sys/unix"

	"github.com/bpfkit/bpfkit/internal/sys"
)

// Link is an attachment of a program: libbpf's struct bpf_link, or a BPF link of
// bpfkit's own (XDP, tcx, raw tracepoints with a cookie). It belongs to the Object, which
// destroys it on Close; Close destroys it earlier (detaching the program). Close is
// idempotent and nil-safe; the other methods return ErrClosed afterwards.
type Link struct {
	obj    *Object
	prog   atomic.Pointer[Program] // Update replaces it
	what   string                  // e.g. `tracepoint syscalls/sys_enter_write`, for messages
	clink  *C.struct_bpf_link      // nil for a bare fd link
	fd     *sys.FD                 // the link's descriptor: libbpf's (borrowed) or ours (owned)
	closed bool                    // guarded by obj.mu
	pins   pins                    // where Pin pinned it
}

// newLink makes the Link of a libbpf link (cl) or of a bare link fd (fd >= 0).
func newLink(o *Object, p *Program, what string, cl *C.struct_bpf_link, fd int) *Link {
	l := &Link{obj: o, what: what, clink: cl}
	l.prog.Store(p)
	if cl != nil {
		l.fd = sys.BorrowFD(int(C.bpf_link__fd(cl)))
	} else {
		l.fd = sys.NewFD(fd)
	}
	return l
}

// Program returns the program the link attaches (the one Update put there last).
func (l *Link) Program() *Program { return l.prog.Load() }

// String describes the link, e.g. `program "handle_tp" on tracepoint syscalls/sys_enter_write`.
func (l *Link) String() string { return fmt.Sprintf("program %q on %s", l.Program().name, l.what) }

// FD returns the link's file descriptor, owned by the link: valid until the link or its
// Object is closed.
func (l *Link) FD() (int, error) {
	if l.fd.Closed() {
		return -1, fmt.Errorf("link of %s: %w", l, ErrClosed)
	}
	return l.fd.Raw(), nil
}

// Pin pins the link on a BPF file system at path, so that the attachment outlives the
// process until the pin is removed. As Map.Pin, it creates nothing outside a BPF file
// system and leaves nothing behind when it fails.
func (l *Link) Pin(path string) error {
	if err := l.pins.pin(l.fd, path); err != nil {
		return fmt.Errorf("pinning link of %s at %s: %w", l, path, err)
	}
	return nil
}

// Unpin removes the pin at path that Pin made, and nothing else (see Map.Unpin).
func (l *Link) Unpin(path string) error {
	if err := l.pins.unpin(l.fd, sys.KindLink, path); err != nil {
		return fmt.Errorf("unpinning link of %s at %s: %w", l, path, err)
	}
	return nil
}

// Close detaches the program (destroys the link) and forgets it from the Object.
func (l *Link) Close() error {
	if l == nil {
		return nil
	}
	o := l.obj
	o.mu.Lock()
	defer o.mu.Unlock()
	if l.closed {
		return nil
	}
	for i, x := range o.links {
		if x == l {
			o.links = append(o.links[:i], o.links[i+1:]...)
			break
		}
	}
	for p, x := range o.auto {
		if x == l {
			delete(o.auto, p)
		}
	}
	return l.destroy()
}

// destroy releases the link; the caller holds obj.mu for writing.
func (l *Link) destroy() error {
	if l.closed {
		return nil
	}
	l.closed = true
	// no operation is in flight on the descriptor once this returns
	if err := l.fd.Close(); err != nil {
		return fmt.Errorf("closing link of %s: %w", l, err)
	}
	if l.clink != nil {
		var rc C.int
		l.obj.sink.emit(withLibbpf(&l.obj.sink, func() { rc = C.bpf_link__destroy(l.clink) }), nil)
		if rc < 0 {
			return fmt.Errorf("destroying link of %s: %w", l, syscall.Errno(-rc))
		}
		l.clink = nil
	}
	return nil
}

// LinkInfo describes a link as the kernel reports it (BPF_OBJ_GET_INFO_BY_FD).
type LinkInfo struct {
	// ID is the link's kernel ID; ProgramID that of the program it attaches.
	ID, ProgramID uint32
	// Type is the kind of link (enum bpf_link_type): link.TracingType, link.XDPType …
	Type link.Type
	// AttachType is the attach type the kernel recorded, for the link types that record
	// one (tracing, cgroup, netns, tcx, netkit); 0 otherwise.
	AttachType uint32
	// Ifindex is the interface of an XDP, tcx or netkit link; 0 otherwise.
	Ifindex uint32
	// CgroupID is the cgroup of a cgroup link; 0 otherwise.
	CgroupID uint64
}

// Info returns what the kernel says about the link (kernel 5.8+).
func (l *Link) Info() (LinkInfo, error) {
	op := fmt.Sprintf("reading the info of link of %s", l)
	fd, ok := l.fd.Acquire()
	if !ok {
		return LinkInfo{}, fmt.Errorf("%s: %w", op, ErrClosed)
	}
	ki, err := sys.ObjLinkInfo(fd)
	l.fd.Release()
	if err != nil {
		return LinkInfo{}, kernelErr(op, err, sys.Version{Major: 5, Minor: 8})
	}
	info := LinkInfo{ID: ki.ID, ProgramID: ki.ProgID, Type: link.Type(ki.Type), Ifindex: ki.Ifindex(), CgroupID: ki.CgroupID()}
	info.AttachType, _ = ki.AttachType()
	return info, nil
}

// updatable are the link types whose program the kernel can replace, and the kernel
// each needs (the kernel answers EINVAL for the others, as for an unknown command).
var updatable = map[link.Type]sys.Version{
	link.CgroupType: {Major: 5, Minor: 7},
	link.NetNsType:  {Major: 5, Minor: 8},
	link.XDPType:    {Major: 5, Minor: 9},
	link.TCXType:    {Major: 6, Minor: 6},
	link.NetkitType: {Major: 6, Minor: 7},
}

// Update replaces the link's program by p, atomically, without detaching
// (BPF_LINK_UPDATE): for cgroup (kernel 5.7+), netns (5.8+), XDP (5.9+), tcx (6.6+) and
// netkit (6.7+) links. Other links (tracepoints, kprobes, tracing …) cannot change their
// program: the error wraps ErrNotSupported. p must be loaded, and of a type and attach
// type the attach point takes.
func (l *Link) Update(p *Program) error {
	op := fmt.Sprintf("updating link of %s", l)
	if p == nil {
		return fmt.Errorf("%s: nil program", op)
	}
	info, err := l.Info()
	if err != nil {
		return fmt.Errorf("%s: %w", op, err)
	}
	min, ok := updatable[info.Type]
	if !ok {
		return fmt.Errorf("%s: the kernel cannot replace the program of a %s link: %w", op, sys.LinkTypeName(uint32(info.Type)), ErrNotSupported)
	}
	pf, err := p.slot.FD()
	if err != nil {
		return fmt.Errorf("%s: %w", op, err)
	}
	o := l.obj
	o.mu.Lock()
	defer o.mu.Unlock()
	if l.closed {
		return fmt.Errorf("%s: %w", op, ErrClosed)
	}
	progFD, ok := pf.Acquire()
	if !ok {
		return fmt.Errorf("%s: %w", op, p.noFD())
	}
	defer pf.Release()
	fd, ok := l.fd.Acquire()
	if !ok {
		return fmt.Errorf("%s: %w", op, ErrClosed)
	}
	err = sys.LinkUpdate(fd, progFD, 0, 0)
	l.fd.Release()
	if err != nil {
		return kernelErr(op, err, min)
	}
	l.prog.Store(p)
	return nil
}

// Detach detaches the program from its attach point while the link stays open
// (BPF_LINK_DETACH, kernel 5.9+): the link becomes defunct, and a pin of it no longer
// keeps the attachment. Links made through perf events (tracepoints, kprobes, uprobes)
// cannot be detached: the error wraps ErrNotSupported. Close the link still.
func (l *Link) Detach() error {
	op := fmt.Sprintf("detaching link of %s", l)
	fd, ok := l.fd.Acquire()
	if !ok {
		return fmt.Errorf("%s: %w", op, ErrClosed)
	}
	err := sys.LinkDetach(fd)
	l.fd.Release()
	if errors.Is(err, unix.EOPNOTSUPP) {
		return fmt.Errorf("%s: the kernel cannot detach this kind of link: %w (%w)", op, ErrNotSupported, err)
	}
	if err != nil {
		return kernelErr(op, err, sys.Version{Major: 5, Minor: 9})
	}
	return nil
}

// kernelErr wraps the kernel's answer to op: ErrNotSupported with the kernel version the
// operation needs when the running kernel is older than min and refused it, else the
// errno (with the privilege diagnosis for EPERM).
func kernelErr(op string, err error, min sys.Version) error {
	var lw *libbpfWords
	if errors.As(err, &lw) {
		op += ": " + lw.words
	}
	var errno syscall.Errno
	if !errors.As(err, &errno) {
		return fmt.Errorf("%s: %w", op, err)
	}
	if lw != nil && (errno == syscall.EACCES || errno == syscall.EPERM) && strings.Contains(lw.words, "perf event ID") {
		// libbpf reads a tracepoint's ID from tracefs (events/CATEGORY/NAME/id): CAP_BPF
		// and CAP_PERFMON do not open it, file permissions do.
		return fmt.Errorf("%s (libbpf reads the tracepoint's ID from tracefs, /sys/kernel/tracing, "+
			"which this user may not read: run as root, or mount tracefs with a gid= and mode= that let it): %w", op, errno)
	}
	if ns := sys.NotSupported(op, min, errno); ns != nil {
		return ns
	}
	return wrapErrno(op, errno)
}
