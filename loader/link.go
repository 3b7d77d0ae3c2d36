package loader

/*
#include <stdlib.h>
#include "bpfkit.h"
*/
import "C"

import (
	"debug/elf"
	"errors"
	"fmt"
	"net"
	"os"
	"syscall"
	"unsafe"

	"github.com/bpfkit/bpfkit/internal/sys"
)

// Link is an attachment of a program: libbpf's struct bpf_link, or a bare BPF link fd
// for XDP with mode flags. It belongs to the Object, which destroys it on Close; Close
// destroys it earlier (detaching the program). Close is idempotent and nil-safe.
type Link struct {
	obj    *Object
	prog   *Program
	what   string             // e.g. `tracepoint syscalls/sys_enter_write`, for messages
	clink  *C.struct_bpf_link // nil for a bare fd link
	fd     *sys.FD            // the link's descriptor: libbpf's (borrowed) or ours (owned)
	closed bool               // guarded by obj.mu
	pins   pins               // where Pin pinned it
}

// newLink makes the Link of a libbpf link (cl) or of a bare link fd (fd >= 0).
func newLink(o *Object, p *Program, what string, cl *C.struct_bpf_link, fd int) *Link {
	l := &Link{obj: o, prog: p, what: what, clink: cl}
	if cl != nil {
		l.fd = sys.BorrowFD(int(C.bpf_link__fd(cl)))
	} else {
		l.fd = sys.NewFD(fd)
	}
	return l
}

// Program returns the program the link attaches.
func (l *Link) Program() *Program { return l.prog }

// String describes the link, e.g. `program "handle_tp" on tracepoint syscalls/sys_enter_write`.
func (l *Link) String() string { return fmt.Sprintf("program %q on %s", l.prog.name, l.what) }

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
		if rc := C.bpf_link__destroy(l.clink); rc < 0 {
			return fmt.Errorf("destroying link of %s: %w", l, syscall.Errno(-rc))
		}
		l.clink = nil
	}
	return nil
}

// attach runs fn, which makes a libbpf link for p, and registers the link with the
// object. what describes the attach point for messages.
func (p *Program) attach(what string, fn func(out **C.struct_bpf_link) C.long) (*Link, error) {
	if err := p.usable(); err != nil {
		return nil, err
	}
	o := p.obj
	o.mu.Lock()
	defer o.mu.Unlock()
	if err := p.usable(); err != nil {
		return nil, err
	}
	op := fmt.Sprintf("attaching program %q of %s to %s", p.name, o.name, what)
	if !o.loaded || p.slot.Load() == nil {
		return nil, fmt.Errorf("%s: %w", op, ErrNotLoaded)
	}
	var cl *C.struct_bpf_link
	var rc C.long
	withLibbpf(&o.sink, func() { rc = fn(&cl) })
	if rc < 0 {
		return nil, wrapErrno(op, syscall.Errno(-rc))
	}
	l := newLink(o, p, what, cl, -1)
	o.links = append(o.links, l)
	return l, nil
}

// Attach attaches the program to the attach point its section names
// (bpf_program__attach): SEC("tp/syscalls/sys_enter_write"), SEC("raw_tp/sched_switch"),
// SEC("tp_btf/sched_switch"), SEC("fentry/…"), SEC("kprobe/…"), SEC("uprobe/…"), SEC("iter/…")
// and the other auto-attaching sections of libbpf. A section that names no attach point
// gives ErrNoAttachPoint: use AttachXDP, AttachTCX, AttachCgroup … instead.
func (p *Program) Attach() (*Link, error) {
	l, err := p.attach("its section "+p.section, func(out **C.struct_bpf_link) C.long {
		return C.bk_attach(p.cp, out)
	})
	if errors.Is(err, syscall.EOPNOTSUPP) {
		return nil, fmt.Errorf("attaching program %q of %s: section %q: %w", p.name, p.obj.name, p.section, ErrNoAttachPoint)
	}
	return l, err
}

// AttachTracepoint attaches a tracepoint program to category/name, e.g.
// ("syscalls", "sys_enter_write") (bpf_program__attach_tracepoint).
func (p *Program) AttachTracepoint(category, name string) (*Link, error) {
	ccat, cname := C.CString(category), C.CString(name)
	defer C.free(unsafe.Pointer(ccat))
	defer C.free(unsafe.Pointer(cname))
	return p.attach("tracepoint "+category+"/"+name, func(out **C.struct_bpf_link) C.long {
		return C.bk_attach_tracepoint(p.cp, ccat, cname, out)
	})
}

// AttachRawTracepoint attaches a raw_tp (or tp_btf) program to the raw tracepoint name,
// e.g. "sched_switch" (bpf_program__attach_raw_tracepoint).
func (p *Program) AttachRawTracepoint(name string) (*Link, error) {
	cname := C.CString(name)
	defer C.free(unsafe.Pointer(cname))
	return p.attach("raw tracepoint "+name, func(out **C.struct_bpf_link) C.long {
		return C.bk_attach_raw_tracepoint(p.cp, cname, out)
	})
}

// AttachKprobe attaches a kprobe (or, with retprobe, a kretprobe) program to the kernel
// function symbol (bpf_program__attach_kprobe). Needs a kernel with CONFIG_KPROBES.
func (p *Program) AttachKprobe(symbol string, retprobe bool) (*Link, error) {
	csym := C.CString(symbol)
	defer C.free(unsafe.Pointer(csym))
	return p.attach("kprobe "+symbol, func(out **C.struct_bpf_link) C.long {
		return C.bk_attach_kprobe(p.cp, cbool(retprobe), csym, out)
	})
}

// AttachUprobe attaches a uprobe (or, with retprobe, a uretprobe) program to the
// function symbol of the executable or library at path, for process pid (-1: every
// process) (bpf_program__attach_uprobe_opts). The symbol is looked up in the file's
// symbol tables, local symbols included, so Go functions can be probed by their full
// name ("main.handle"). Do not put uretprobes on Go functions: Go moves stacks.
func (p *Program) AttachUprobe(path, symbol string, pid int, retprobe bool) (*Link, error) {
	off, err := symbolFileOffset(path, symbol)
	if err != nil {
		return nil, fmt.Errorf("attaching program %q of %s to uprobe: %w", p.name, p.obj.name, err)
	}
	cpath := C.CString(path)
	defer C.free(unsafe.Pointer(cpath))
	return p.attach("uprobe "+path+":"+symbol, func(out **C.struct_bpf_link) C.long {
		return C.bk_attach_uprobe(p.cp, cbool(retprobe), C.int(pid), cpath, nil, C.ulong(off), out)
	})
}

// symbolFileOffset returns the file offset of a function symbol in an ELF file: its
// address, less the address of the loadable segment that holds it, plus that
// segment's offset in the file.
func symbolFileOffset(path, symbol string) (uint64, error) {
	f, err := elf.Open(path)
	if err != nil {
		return 0, err
	}
	defer f.Close()
	var addr uint64
	found := false
	for _, read := range []func() ([]elf.Symbol, error){f.Symbols, f.DynamicSymbols} {
		syms, _ := read()
		for _, s := range syms {
			if s.Name == symbol && elf.ST_TYPE(s.Info) == elf.STT_FUNC && s.Value != 0 {
				addr, found = s.Value, true
				break
			}
		}
		if found {
			break
		}
	}
	if !found {
		return 0, fmt.Errorf("no function symbol %q in %s", symbol, path)
	}
	for _, prog := range f.Progs {
		if prog.Type == elf.PT_LOAD && prog.Flags&elf.PF_X != 0 && addr >= prog.Vaddr && addr < prog.Vaddr+prog.Memsz {
			return addr - prog.Vaddr + prog.Off, nil
		}
	}
	return 0, fmt.Errorf("symbol %q of %s lies in no executable segment", symbol, path)
}

// AttachPerfEvent attaches a perf_event program to the perf event fd, which the caller
// opened with perf_event_open(2) and keeps owning (bpf_program__attach_perf_event).
func (p *Program) AttachPerfEvent(fd int) (*Link, error) {
	return p.attach(fmt.Sprintf("perf event fd %d", fd), func(out **C.struct_bpf_link) C.long {
		return C.bk_attach_perf_event(p.cp, C.int(fd), out)
	})
}

// AttachCgroup attaches a cgroup program (cgroup_skb, cgroup/sock …, sockops …) to the
// cgroup v2 directory at path, e.g. "/sys/fs/cgroup" (bpf_program__attach_cgroup).
func (p *Program) AttachCgroup(path string) (*Link, error) {
	dir, err := os.Open(path)
	if err != nil {
		return nil, fmt.Errorf("attaching program %q of %s to cgroup: %w", p.name, p.obj.name, err)
	}
	defer dir.Close()
	fd := C.int(dir.Fd())
	return p.attach("cgroup "+path, func(out **C.struct_bpf_link) C.long {
		return C.bk_attach_cgroup(p.cp, fd, out)
	})
}

// TCDirection selects the tcx hook: ingress or egress.
type TCDirection uint32

// The tcx hooks (enum bpf_attach_type values).
const (
	TCIngress TCDirection = TCDirection(AttachTCXIngress)
	TCEgress  TCDirection = TCDirection(AttachTCXEgress)
)

// AttachTCX attaches a tc program (SEC("tc"), SEC("tcx/ingress") …) to the network
// interface ifname at the tcx hook dir, through a BPF link (bpf_link_create with
// BPF_TCX_INGRESS or BPF_TCX_EGRESS; kernel ≥ 6.6).
func (p *Program) AttachTCX(ifname string, dir TCDirection) (*Link, error) {
	what := "tcx ingress of " + ifname
	if dir == TCEgress {
		what = "tcx egress of " + ifname
	}
	return p.attachLink(what, ifname, uint32(dir), 0)
}

// XDPFlags select the XDP mode (include/uapi/linux/if_link.h XDP_FLAGS_*).
type XDPFlags uint32

// XDP modes. Zero lets the kernel choose: native if the driver supports it, else generic.
const (
	XDPGeneric XDPFlags = 1 << 1 // XDP_FLAGS_SKB_MODE: generic XDP, works on every interface (lo, veth)
	XDPDriver  XDPFlags = 1 << 2 // XDP_FLAGS_DRV_MODE: the driver's native XDP
	XDPOffload XDPFlags = 1 << 3 // XDP_FLAGS_HW_MODE: offloaded to the NIC
)

// AttachXDP attaches an XDP program to the interface ifname through a BPF link, in the
// mode flags selects (bpf_link_create with BPF_XDP).
func (p *Program) AttachXDP(ifname string, flags XDPFlags) (*Link, error) {
	return p.attachLink("XDP on "+ifname, ifname, uint32(AttachXDP), uint32(flags))
}

// attachLink makes a bare BPF link of p to the interface ifname.
func (p *Program) attachLink(what, ifname string, attachType, flags uint32) (*Link, error) {
	if err := p.usable(); err != nil {
		return nil, err
	}
	op := fmt.Sprintf("attaching program %q of %s to %s", p.name, p.obj.name, what)
	iface, err := net.InterfaceByName(ifname)
	if err != nil {
		return nil, fmt.Errorf("%s: interface %q: %w", op, ifname, err)
	}
	o := p.obj
	o.mu.Lock()
	defer o.mu.Unlock()
	if err := p.usable(); err != nil {
		return nil, err
	}
	f := p.slot.Load()
	if !o.loaded || f == nil {
		return nil, fmt.Errorf("%s: %w", op, ErrNotLoaded)
	}
	fd := C.bk_link_create(C.int(f.Raw()), C.int(iface.Index), C.uint(attachType), C.uint(flags))
	if fd < 0 {
		return nil, wrapErrno(op, syscall.Errno(-fd))
	}
	l := newLink(o, p, what, nil, int(fd))
	o.links = append(o.links, l)
	return l, nil
}

func cbool(b bool) C.int {
	if b {
		return 1
	}
	return 0
}
