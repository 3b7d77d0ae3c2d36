// SPDX-License-Identifier: Apache-2.0

package loader

// #include <stdlib.h>
// #include <bpf/libbpf.h>
import "C"

import (
	"errors"
	"fmt"
	"sync/atomic"
	"syscall"
	"unsafe"

	"github.com/cilium/ebpf"
	"golang.org/x/sys/unix"

	"github.com/bpfkit/bpfkit/internal/sys"
)

// Program is one program of an Object: libbpf's struct bpf_program. It is valid until
// its Object is closed; afterwards its methods return ErrClosed.
type Program struct {
	slot       // the program's descriptor once loaded, under the lifetime rule (sys.FD)
	obj        *Object
	cp         *C.struct_bpf_program
	name       string
	section    string
	typ        atomic.Uint32 // ebpf.ProgramType: libbpf's, or SetType's
	attachType atomic.Uint32 // ebpf.AttachType: libbpf's, or SetExpectedAttachType's
	pins       pins          // where Pin pinned it
	// targetFD is SetAttachTarget's duplicate of the target program's descriptor, which
	// libbpf uses at Load; -1 if none. Guarded by the object's lock.
	targetFD int
}

func newProgram(o *Object, cp *C.struct_bpf_program) *Program {
	p := &Program{
		obj:      o,
		cp:       cp,
		name:     C.GoString(C.bpf_program__name(cp)),
		section:  C.GoString(C.bpf_program__section_name(cp)),
		targetFD: -1,
	}
	p.readTypes()
	p.slot.Init(p.noFD)
	return p
}

// readTypes copies libbpf's program and expected attach type (a setter may change both).
func (p *Program) readTypes() {
	p.typ.Store(uint32(C.bpf_program__type(p.cp)))
	p.attachType.Store(uint32(C.bpf_program__expected_attach_type(p.cp)))
}

// noFD explains why the program has no usable descriptor: its object is closed, or the
// program is not loaded.
func (p *Program) noFD() error {
	if err := p.usable(); err != nil {
		return err
	}
	return fmt.Errorf("program %q of %s: %w", p.name, p.obj.name, ErrNotLoaded)
}

// Name returns the program's name: its C function name.
func (p *Program) Name() string { return p.name }

// Section returns the program's ELF section name, e.g. "tp/syscalls/sys_enter_write".
func (p *Program) Section() string { return p.section }

// Type returns the program type libbpf derived from the section name
// (bpf_program__type), or the one SetType gave it: ebpf.UnspecifiedProgram for a
// section name libbpf does not know.
func (p *Program) Type() ebpf.ProgramType { return ebpf.ProgramType(p.typ.Load()) }

// AttachType returns the expected attach type libbpf derived from the section name
// (bpf_program__expected_attach_type), or the one SetExpectedAttachType gave it; 0
// (ebpf.AttachNone) for types that have none.
func (p *Program) AttachType() ebpf.AttachType { return ebpf.AttachType(p.attachType.Load()) }

// Setters before Load: libbpf takes a program's type and expected attach type from its
// section name, and its attach target (fentry, tp_btf …) from what follows the prefix;
// a loader whose programs live in sections of its own naming (SEC("tc_hook0"),
// SEC("xdp_packet_hook")) sets them by hand, as bpf_program__set_* would in C. Each
// returns ErrAlreadyLoaded after Load and ErrClosed after Close.

// SetType sets the program's type (bpf_program__set_type): for a section name libbpf
// does not know, or to load a program as another type, e.g. ebpf.SchedCLS for
// SEC("tc_packet_hook0"). Set the expected attach type after it where the type needs
// one (SetExpectedAttachType).
func (p *Program) SetType(t ebpf.ProgramType) error {
	return p.set("type", func() error {
		if t == ebpf.UnspecifiedProgram || uint32(t) > 255 {
			return fmt.Errorf("%d is not a Linux program type", uint32(t))
		}
		return libbpfRC(C.bpf_program__set_type(p.cp, uint32(t)))
	})
}

// SetExpectedAttachType sets the attach type the kernel checks the program against at
// load (bpf_program__set_expected_attach_type), e.g. ebpf.AttachCGroupInetIngress for a
// cgroup_skb program, ebpf.AttachTraceFEntry for an fentry program.
func (p *Program) SetExpectedAttachType(t ebpf.AttachType) error {
	return p.set("expected attach type", func() error {
		if uint32(t) > 255 {
			return fmt.Errorf("%d is not a Linux attach type", uint32(t))
		}
		return libbpfRC(C.bpf_program__set_expected_attach_type(p.cp, uint32(t)))
	})
}

// SetAttachTarget sets what a BTF-attached program (fentry, fexit, fmod_ret, tp_btf,
// lsm, freplace) attaches to (bpf_program__set_attach_target): the kernel function (or,
// for tp_btf, the tracepoint) fn, found in the running kernel's BTF now, so that a name
// the kernel lacks fails here rather than at Load; or, with in set, the function fn of
// in, a loaded program of this or another object (freplace, fentry on a BPF program;
// fn "" means in's main function). The program's type and expected attach type must
// already be right (from its section, or the setters). The program keeps a duplicate of
// in's descriptor until Load, so in may be closed meanwhile.
func (p *Program) SetAttachTarget(fn string, in *Program) error {
	return p.set("attach target", func() error {
		switch ebpf.ProgramType(C.bpf_program__type(p.cp)) {
		case ebpf.Tracing, ebpf.LSM, ebpf.Extension:
		default:
			return fmt.Errorf("a %s program has no BTF attach target (only tracing, lsm and ext programs do)", p.Type())
		}
		if fn == "" && in == nil {
			return fmt.Errorf("no function named")
		}
		var cfn *C.char
		if fn != "" {
			cfn = C.CString(fn)
			defer C.free(unsafe.Pointer(cfn))
		}
		if in == nil {
			if err := libbpfRC(C.bpf_program__set_attach_target(p.cp, 0, cfn)); err != nil {
				if errors.Is(err, syscall.ESRCH) {
					return fmt.Errorf("the running kernel's BTF has no %q to attach a %s program to: %w", fn, p.AttachType(), err)
				}
				return err
			}
			p.closeTargetFD()
			return nil
		}
		f, err := in.slot.FD()
		if err != nil {
			return fmt.Errorf("target program: %w", err)
		}
		fd, ok := f.Acquire()
		if !ok {
			return fmt.Errorf("target program: %w", in.noFD())
		}
		dup, err := unix.FcntlInt(uintptr(fd), unix.F_DUPFD_CLOEXEC, 3)
		f.Release()
		if err != nil {
			return fmt.Errorf("duplicating the target program's descriptor: %w", err)
		}
		if err := libbpfRC(C.bpf_program__set_attach_target(p.cp, C.int(dup), cfn)); err != nil {
			unix.Close(dup)
			return err
		}
		p.closeTargetFD()
		p.targetFD = dup
		return nil
	})
}

// closeTargetFD closes SetAttachTarget's duplicate, which libbpf no longer needs after
// Load. The caller holds the object's lock for writing.
func (p *Program) closeTargetFD() {
	if p.targetFD >= 0 {
		unix.Close(p.targetFD)
		p.targetFD = -1
	}
}

// set runs fn, which changes the program's definition before Load, under the object's
// write lock, then reads its types back; what names the setting, for errors.
func (p *Program) set(what string, fn func() error) error {
	if err := p.usable(); err != nil {
		return err
	}
	op := fmt.Sprintf("setting %s of program %q of %s", what, p.name, p.obj.name)
	return p.obj.beforeLoad(op, func() error {
		var err error
		out := withLibbpf(&p.obj.sink, func() { err = fn() })
		p.readTypes()
		if err != nil {
			d, ok := out.diagnose()
			p.obj.sink.emit(out, out.failureSaid(d, ok))
			if ok {
				return fmt.Errorf("%s: %w", d.words, err)
			}
			return err
		}
		p.obj.sink.emit(out, nil)
		return nil
	})
}

// String returns the program's name and section, for messages.
func (p *Program) String() string { return fmt.Sprintf("program %q (%s)", p.name, p.section) }

// usable returns ErrClosed once the program's object is closed.
func (p *Program) usable() error {
	if p == nil {
		return fmt.Errorf("nil *loader.Program: %w", ErrClosed)
	}
	if p.obj.closed.Load() {
		return fmt.Errorf("program %q of %s: %w", p.name, p.obj.name, ErrClosed)
	}
	return nil
}

// Autoload reports whether Load will load the program (bpf_program__autoload). It is
// false for a section that starts with '?' and after SetAutoload(false); false too once
// the object is closed.
func (p *Program) Autoload() bool {
	if p.usable() != nil {
		return false
	}
	on := false
	_ = p.obj.whileOpen(func() error { on = bool(C.bpf_program__autoload(p.cp)); return nil })
	return on
}

// SetAutoload chooses whether Load loads the program (bpf_program__set_autoload).
// After Load it returns ErrAlreadyLoaded.
func (p *Program) SetAutoload(on bool) error {
	if err := p.usable(); err != nil {
		return err
	}
	op := fmt.Sprintf("setting autoload of program %q of %s", p.name, p.obj.name)
	return p.obj.beforeLoad(op, func() error {
		if rc := C.bpf_program__set_autoload(p.cp, C.bool(on)); rc < 0 {
			return libbpfErrno(syscall.Errno(-rc))
		}
		return nil
	})
}

// FD returns the program's file descriptor, owned by the Object. It returns
// ErrNotLoaded before Load or when the program was not loaded (autoload off).
//
// The descriptor is valid until the Object is closed; a caller that uses it in system
// calls of its own must not close the Object meanwhile.
func (p *Program) FD() (int, error) {
	f := p.slot.Load()
	if f == nil || f.Closed() {
		return -1, p.noFD()
	}
	return f.Raw(), nil
}

// Pin pins the program on a BPF file system at path (BPF_OBJ_PIN); the pin outlives
// the Object until Unpin or its removal. As Map.Pin, it creates nothing outside a BPF
// file system and leaves nothing behind when it fails.
func (p *Program) Pin(path string) error {
	op := fmt.Sprintf("pinning program %q of %s at %s", p.name, p.obj.name, path)
	f, err := p.slot.FD()
	if err != nil {
		return fmt.Errorf("%s: %w", op, err)
	}
	if err := p.pins.pin(f, path); err != nil {
		return fmt.Errorf("%s: %w", op, err)
	}
	return nil
}

// Unpin removes the pin at path that Pin made, and nothing else (see Map.Unpin).
func (p *Program) Unpin(path string) error {
	op := fmt.Sprintf("unpinning program %q of %s at %s", p.name, p.obj.name, path)
	f, err := p.slot.FD()
	if err != nil {
		return fmt.Errorf("%s: %w", op, err)
	}
	if err := p.pins.unpin(f, sys.KindProgram, path); err != nil {
		return fmt.Errorf("%s: %w", op, err)
	}
	return nil
}

// autoloadLocked is Autoload for a caller that holds the object's lock.
func (p *Program) autoloadLocked() bool { return bool(C.bpf_program__autoload(p.cp)) }
