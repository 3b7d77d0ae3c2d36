// SPDX-License-Identifier: Apache-2.0

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

	"github.com/cilium/ebpf"
	"golang.org/x/sys/unix"

	"github.com/bpfkit/bpfkit/internal/sys"
)

// Every Attach… method takes an options struct (nil for the defaults), so that what the
// kernel adds to an attach point (cookies, anchors, flags) can be added without breaking
// callers. The links belong to the Object.

// attach runs fn, which makes a libbpf link for p, and registers the link with the
// object. what describes the attach point for messages; min is the kernel the options
// given need, to name it when the kernel refuses them.
func (p *Program) attach(what string, min sys.Version, fn func(out **C.struct_bpf_link) C.long) (*Link, error) {
	return p.attachWith(what, func(o *Object, progFD int) (*Link, error) {
		var cl *C.struct_bpf_link
		var rc C.long
		out := withLibbpf(&o.sink, func() { rc = fn(&cl) })
		if rc < 0 {
			d, ok := out.diagnose()
			o.sink.emit(out, out.failureSaid(d, ok))
			if ok {
				return nil, &libbpfWords{words: withoutErrnoText(d.words, syscall.Errno(-rc)), errno: syscall.Errno(-rc)}
			}
			return nil, syscall.Errno(-rc)
		}
		o.sink.emit(out, nil)
		return newLink(o, p, what, cl, -1), nil
	}, min)
}

// attachWith runs mk, which makes a link of p (its descriptor is progFD), under the
// object's write lock once p is loaded, and registers the link with the object.
func (p *Program) attachWith(what string, mk func(o *Object, progFD int) (*Link, error), min sys.Version) (*Link, error) {
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
	f := p.slot.Load()
	if !o.loaded || f == nil {
		return nil, fmt.Errorf("%s: %w", op, ErrNotLoaded)
	}
	progFD, ok := f.Acquire()
	if !ok {
		return nil, fmt.Errorf("%s: %w", op, ErrClosed)
	}
	l, err := mk(o, progFD)
	f.Release()
	if err != nil {
		return nil, kernelErr(op, err, min)
	}
	o.links = append(o.links, l)
	return l, nil
}

// Attach attaches the program to the attach point its section names
// (bpf_program__attach): SEC("tp/syscalls/sys_enter_write"), SEC("raw_tp/sched_switch"),
// SEC("tp_btf/sched_switch"), SEC("fentry/…"), SEC("kprobe/…"), SEC("uprobe/…"), SEC("iter/…")
// and the other auto-attaching sections of libbpf. A section that names no attach point
// gives ErrNoAttachPoint: use AttachXDP, AttachTCX, AttachCgroup … instead.
func (p *Program) Attach() (*Link, error) {
	l, err := p.attach("its section "+p.section, sys.Version{}, func(out **C.struct_bpf_link) C.long {
		return C.bk_attach(p.cp, out)
	})
	if errors.Is(err, syscall.EOPNOTSUPP) {
		return nil, fmt.Errorf("attaching program %q of %s: section %q: %w", p.name, p.obj.name, p.section, ErrNoAttachPoint)
	}
	return l, err
}

// cookieKernel is the kernel that passes a cookie to perf-event based programs
// (kprobes, uprobes, tracepoints, perf events) for bpf_get_attach_cookie.
var cookieKernel = sys.Version{Major: 5, Minor: 15}

// TracepointOptions configure AttachTracepoint.
type TracepointOptions struct {
	// Cookie is what the program reads with bpf_get_attach_cookie (kernel 5.15+).
	Cookie uint64
}

// AttachTracepoint attaches a tracepoint program to category/name, e.g.
// ("syscalls", "sys_enter_write") (bpf_program__attach_tracepoint_opts).
func (p *Program) AttachTracepoint(category, name string, opts *TracepointOptions) (*Link, error) {
	var o TracepointOptions
	if opts != nil {
		o = *opts
	}
	ccat, cname := C.CString(category), C.CString(name)
	defer C.free(unsafe.Pointer(ccat))
	defer C.free(unsafe.Pointer(cname))
	return p.attach("tracepoint "+category+"/"+name, minIf(o.Cookie != 0, cookieKernel), func(out **C.struct_bpf_link) C.long {
		return C.bk_attach_tracepoint(p.cp, ccat, cname, C.ulonglong(o.Cookie), out)
	})
}

// RawTracepointOptions configure AttachRawTracepoint.
type RawTracepointOptions struct {
	// Cookie is what the program reads with bpf_get_attach_cookie (kernel 6.10+).
	Cookie uint64
}

// AttachRawTracepoint attaches a raw_tp (or tp_btf) program to the raw tracepoint name,
// e.g. "sched_switch" (bpf_program__attach_raw_tracepoint; with a Cookie,
// BPF_RAW_TRACEPOINT_OPEN, as libbpf 1.4 has no option for it).
func (p *Program) AttachRawTracepoint(name string, opts *RawTracepointOptions) (*Link, error) {
	var o RawTracepointOptions
	if opts != nil {
		o = *opts
	}
	what := "raw tracepoint " + name
	if o.Cookie != 0 {
		return p.attachWith(what, func(obj *Object, progFD int) (*Link, error) {
			fd, err := sys.RawTracepointOpen(progFD, name, o.Cookie)
			if err != nil {
				return nil, err
			}
			return newLink(obj, p, what, nil, fd), nil
		}, sys.Version{Major: 6, Minor: 10})
	}
	cname := C.CString(name)
	defer C.free(unsafe.Pointer(cname))
	return p.attach(what, sys.Version{}, func(out **C.struct_bpf_link) C.long {
		return C.bk_attach_raw_tracepoint(p.cp, cname, out)
	})
}

// KprobeOptions configure AttachKprobe.
type KprobeOptions struct {
	// Retprobe attaches to the function's return (a kretprobe).
	Retprobe bool
	// Offset is added to the symbol's address (kprobes only).
	Offset uint64
	// Cookie is what the program reads with bpf_get_attach_cookie (kernel 5.15+).
	Cookie uint64
}

// AttachKprobe attaches a kprobe program to the kernel function symbol
// (bpf_program__attach_kprobe_opts). A kernel built without kprobes (CONFIG_KPROBES)
// gives an error wrapping ErrNotSupported.
func (p *Program) AttachKprobe(symbol string, opts *KprobeOptions) (*Link, error) {
	var o KprobeOptions
	if opts != nil {
		o = *opts
	}
	what := "kprobe " + symbol
	if o.Retprobe {
		what = "kretprobe " + symbol
	}
	csym := C.CString(symbol)
	defer C.free(unsafe.Pointer(csym))
	l, err := p.attach(what, minIf(o.Cookie != 0, cookieKernel), func(out **C.struct_bpf_link) C.long {
		return C.bk_attach_kprobe(p.cp, csym, C.ulong(o.Offset), cbool(o.Retprobe), C.ulonglong(o.Cookie), out)
	})
	if err != nil && !kprobesAvailable() && !errors.Is(err, ErrNotSupported) {
		return nil, fmt.Errorf("%w: this kernel has no kprobes (CONFIG_KPROBES is off: no /sys/bus/event_source/devices/kprobe, no kprobe_events): %w", ErrNotSupported, err)
	}
	return l, err
}

// kprobesAvailable reports whether the kernel can make kprobes: through the kprobe PMU,
// or tracefs's kprobe_events.
func kprobesAvailable() bool {
	for _, p := range []string{"/sys/bus/event_source/devices/kprobe/type",
		"/sys/kernel/tracing/kprobe_events", "/sys/kernel/debug/tracing/kprobe_events"} {
		if _, err := os.Stat(p); err == nil {
			return true
		}
	}
	return false
}

// UprobeOptions configure AttachUprobe.
type UprobeOptions struct {
	// Retprobe attaches to the function's return (a uretprobe). Do not put uretprobes
	// on Go functions: Go moves stacks.
	Retprobe bool
	// PID restricts the probe to one process; 0 means every process.
	PID int
	// Offset is added to the symbol's file offset (or is the offset, without a symbol).
	Offset uint64
	// RefCtrOffset is the file offset of the probe's reference counter (a USDT
	// semaphore), which the kernel increments while the probe is attached (4.20+).
	RefCtrOffset uint64
	// Cookie is what the program reads with bpf_get_attach_cookie (kernel 5.15+).
	Cookie uint64
}

// AttachUprobe attaches a uprobe program to the function symbol of the executable or
// library at path ("" with opts.Offset: that file offset)
// (bpf_program__attach_uprobe_opts). The symbol is looked up in the file's symbol
// tables, local symbols included, so Go functions can be probed by their full name
// ("main.handle").
func (p *Program) AttachUprobe(path, symbol string, opts *UprobeOptions) (*Link, error) {
	var o UprobeOptions
	if opts != nil {
		o = *opts
	}
	off := o.Offset
	if symbol != "" {
		symOff, err := symbolFileOffset(path, symbol)
		if err != nil {
			return nil, fmt.Errorf("attaching program %q of %s to uprobe: %w", p.name, p.obj.name, err)
		}
		off += symOff
	}
	pid := o.PID
	if pid == 0 {
		pid = -1 // libbpf: every process
	}
	cpath := C.CString(path)
	defer C.free(unsafe.Pointer(cpath))
	what := "uprobe " + path + ":" + symbol
	if o.Retprobe {
		what = "uretprobe " + path + ":" + symbol
	}
	min := minIf(o.Cookie != 0, cookieKernel)
	if o.RefCtrOffset != 0 && min.Less(sys.Version{Major: 4, Minor: 20}) {
		min = sys.Version{Major: 4, Minor: 20}
	}
	return p.attach(what, min, func(out **C.struct_bpf_link) C.long {
		return C.bk_attach_uprobe(p.cp, cbool(o.Retprobe), C.int(pid), cpath, C.ulong(off),
			C.ulong(o.RefCtrOffset), C.ulonglong(o.Cookie), out)
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

// PerfEventOptions configure AttachPerfEvent.
type PerfEventOptions struct {
	// Cookie is what the program reads with bpf_get_attach_cookie (kernel 5.15+).
	Cookie uint64
}

// AttachPerfEvent attaches a perf_event program to the perf event fd, which the caller
// opened with perf_event_open(2) and keeps owning: the link holds a duplicate of it
// (libbpf's link closes the descriptor it is given) (bpf_program__attach_perf_event_opts).
func (p *Program) AttachPerfEvent(fd int, opts *PerfEventOptions) (*Link, error) {
	var o PerfEventOptions
	if opts != nil {
		o = *opts
	}
	what := fmt.Sprintf("perf event fd %d", fd)
	dup, err := unix.FcntlInt(uintptr(fd), unix.F_DUPFD_CLOEXEC, 0)
	if err != nil {
		return nil, fmt.Errorf("attaching program %q of %s to %s: %w", p.name, p.obj.name, what, err)
	}
	l, err := p.attach(what, minIf(o.Cookie != 0, cookieKernel), func(out **C.struct_bpf_link) C.long {
		return C.bk_attach_perf_event(p.cp, C.int(dup), C.ulonglong(o.Cookie), out)
	})
	if err != nil {
		unix.Close(dup) // libbpf owns it only once the link exists
		return nil, err
	}
	return l, nil
}

// AttachCgroup attaches a cgroup program (cgroup_skb, cgroup/sock …, sockops …) to the
// cgroup v2 directory at path, e.g. "/sys/fs/cgroup", through a BPF link
// (bpf_program__attach_cgroup; kernel 5.7+).
func (p *Program) AttachCgroup(path string) (*Link, error) {
	dir, err := os.Open(path)
	if err != nil {
		return nil, fmt.Errorf("attaching program %q of %s to cgroup: %w", p.name, p.obj.name, err)
	}
	defer dir.Close()
	fd := C.int(dir.Fd())
	return p.attach("cgroup "+path, sys.Version{Major: 5, Minor: 7}, func(out **C.struct_bpf_link) C.long {
		return C.bk_attach_cgroup(p.cp, fd, out)
	})
}

// TCDirection selects the tcx hook: TCIngress (the zero value) or TCEgress.
type TCDirection int

// The tcx hooks.
const (
	TCIngress TCDirection = iota
	TCEgress
)

// Anchor says where AttachTCX puts the program among those already on the hook: at the
// head or tail, or before or after a given program or link. The zero Anchor is the tail.
type Anchor struct {
	flags uint32
	prog  *Program
	link  *Link
	id    uint32
}

// Head puts the program first on the hook.
func Head() Anchor { return Anchor{flags: sys.BPF_F_BEFORE} }

// Tail puts the program last on the hook (the default).
func Tail() Anchor { return Anchor{flags: sys.BPF_F_AFTER} }

// BeforeProgram puts the program right before p, which must be on the hook.
func BeforeProgram(p *Program) Anchor { return Anchor{flags: sys.BPF_F_BEFORE, prog: p} }

// AfterProgram puts the program right after p, which must be on the hook.
func AfterProgram(p *Program) Anchor { return Anchor{flags: sys.BPF_F_AFTER, prog: p} }

// BeforeLink puts the program right before the program of link l.
func BeforeLink(l *Link) Anchor { return Anchor{flags: sys.BPF_F_BEFORE | sys.BPF_F_LINK, link: l} }

// AfterLink puts the program right after the program of link l.
func AfterLink(l *Link) Anchor { return Anchor{flags: sys.BPF_F_AFTER | sys.BPF_F_LINK, link: l} }

// BeforeProgramID puts the program right before the program of kernel ID id (one that
// another process attached, for example).
func BeforeProgramID(id uint32) Anchor { return Anchor{flags: sys.BPF_F_BEFORE | sys.BPF_F_ID, id: id} }

// AfterProgramID puts the program right after the program of kernel ID id.
func AfterProgramID(id uint32) Anchor { return Anchor{flags: sys.BPF_F_AFTER | sys.BPF_F_ID, id: id} }

// relative acquires the descriptor the anchor names (nil FD when it names none or an
// ID) and returns the flags and relative fd or ID of BPF_LINK_CREATE.
func (a Anchor) relative() (f *sys.FD, flags, rel uint32, err error) {
	var slot *sys.Slot
	switch {
	case a.prog != nil:
		slot = &a.prog.slot
	case a.link != nil:
		f = a.link.fd
	default:
		return nil, a.flags, a.id, nil
	}
	if slot != nil {
		if f, err = slot.FD(); err != nil {
			return nil, 0, 0, fmt.Errorf("anchor: %w", err)
		}
	}
	fd, ok := f.Acquire()
	if !ok {
		return nil, 0, 0, fmt.Errorf("anchor: %w", ErrClosed)
	}
	return f, a.flags, uint32(fd), nil
}

// netInterface resolves the interface an attach targets: by name, or by index when
// ifindex is not 0 (then ifname, if given, must name the same interface).
func netInterface(ifname string, ifindex int) (*net.Interface, error) {
	if ifindex == 0 {
		iface, err := net.InterfaceByName(ifname)
		if err != nil {
			return nil, fmt.Errorf("interface %q: %w", ifname, err)
		}
		return iface, nil
	}
	iface, err := net.InterfaceByIndex(ifindex)
	if err != nil {
		return nil, fmt.Errorf("interface index %d: %w", ifindex, err)
	}
	if ifname != "" && ifname != iface.Name {
		return nil, fmt.Errorf("interface %q is not index %d (%s)", ifname, ifindex, iface.Name)
	}
	return iface, nil
}

// ifaceWhat names the target for messages: the name, or the index when that is all.
func ifaceWhat(ifname string, ifindex int) string {
	if ifname == "" && ifindex != 0 {
		return fmt.Sprintf("interface index %d", ifindex)
	}
	return ifname
}

// TCXOptions configure AttachTCX.
type TCXOptions struct {
	// Direction is the hook: TCIngress (the zero value) or TCEgress.
	Direction TCDirection
	// Anchor places the program among those on the hook; the zero Anchor is the tail.
	Anchor Anchor
	// ExpectedRevision, if not 0, makes the attach fail with ESTALE unless the hook's
	// revision (which each change increments) is this one.
	ExpectedRevision uint64
	// Ifindex, if not 0, names the interface by its index (ifname may then be empty).
	Ifindex int
}

// AttachTCX attaches a tc program (SEC("tc"), SEC("tcx/ingress") …) to the network
// interface ifname (or opts.Ifindex) at a tcx hook, through a BPF link (bpf_link_create
// with BPF_TCX_INGRESS or BPF_TCX_EGRESS; kernel 6.6+).
func (p *Program) AttachTCX(ifname string, opts *TCXOptions) (*Link, error) {
	var o TCXOptions
	if opts != nil {
		o = *opts
	}
	target := ifaceWhat(ifname, o.Ifindex)
	what, attach := "tcx ingress of "+target, ebpf.AttachTCXIngress
	if o.Direction == TCEgress {
		what, attach = "tcx egress of "+target, ebpf.AttachTCXEgress
	}
	iface, err := netInterface(ifname, o.Ifindex)
	if err != nil {
		return nil, fmt.Errorf("attaching program %q of %s to %s: %w", p.name, p.obj.name, what, err)
	}
	rf, flags, rel, err := o.Anchor.relative()
	if err != nil {
		return nil, fmt.Errorf("attaching program %q of %s to %s: %w", p.name, p.obj.name, what, err)
	}
	if rf != nil {
		defer rf.Release()
	}
	return p.attachWith(what, func(obj *Object, progFD int) (*Link, error) {
		fd, err := sys.LinkCreateTCX(progFD, iface.Index, uint32(attach), flags, rel, o.ExpectedRevision)
		if err != nil {
			return nil, err
		}
		return newLink(obj, p, what, nil, fd), nil
	}, sys.Version{Major: 6, Minor: 6})
}

// XDPFlags select the XDP mode (include/uapi/linux/if_link.h XDP_FLAGS_*).
type XDPFlags uint32

// XDP modes. Zero lets the kernel choose: native if the driver supports it, else generic.
const (
	XDPGeneric XDPFlags = 1 << 1 // XDP_FLAGS_SKB_MODE: generic XDP, works on every interface (lo, veth)
	XDPDriver  XDPFlags = 1 << 2 // XDP_FLAGS_DRV_MODE: the driver's native XDP
	XDPOffload XDPFlags = 1 << 3 // XDP_FLAGS_HW_MODE: offloaded to the NIC
)

// XDPOptions configure AttachXDP.
type XDPOptions struct {
	// Mode is the XDP mode; zero lets the kernel choose.
	Mode XDPFlags
	// Ifindex, if not 0, names the interface by its index (ifname may then be empty):
	// for an interface known by index only, such as one in a netlink message.
	Ifindex int
}

// AttachXDP attaches an XDP program to the interface ifname (or opts.Ifindex) through a
// BPF link, in the mode opts.Mode selects (bpf_link_create with BPF_XDP; kernel 5.9+).
func (p *Program) AttachXDP(ifname string, opts *XDPOptions) (*Link, error) {
	var o XDPOptions
	if opts != nil {
		o = *opts
	}
	what := "XDP on " + ifaceWhat(ifname, o.Ifindex)
	iface, err := netInterface(ifname, o.Ifindex)
	if err != nil {
		return nil, fmt.Errorf("attaching program %q of %s to %s: %w", p.name, p.obj.name, what, err)
	}
	return p.attachWith(what, func(obj *Object, progFD int) (*Link, error) {
		fd, err := sys.LinkCreate(progFD, iface.Index, uint32(ebpf.AttachXDP), uint32(o.Mode))
		if err != nil {
			return nil, err
		}
		return newLink(obj, p, what, nil, fd), nil
	}, sys.Version{Major: 5, Minor: 9})
}

// minIf returns v when cond holds, else the zero Version (no minimum).
func minIf(cond bool, v sys.Version) sys.Version {
	if cond {
		return v
	}
	return sys.Version{}
}

func cbool(b bool) C.int {
	if b {
		return 1
	}
	return 0
}
