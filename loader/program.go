// SPDX-License-Identifier: Apache-2.0

package loader

// #include <bpf/libbpf.h>
import "C"

import (
	"fmt"
	"syscall"

	"github.com/cilium/ebpf"

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
	typ        ebpf.ProgramType
	attachType ebpf.AttachType
	pins       pins // where Pin pinned it
}

func newProgram(o *Object, cp *C.struct_bpf_program) *Program {
	p := &Program{
		obj:        o,
		cp:         cp,
		name:       C.GoString(C.bpf_program__name(cp)),
		section:    C.GoString(C.bpf_program__section_name(cp)),
		typ:        ebpf.ProgramType(C.bpf_program__type(cp)),
		attachType: ebpf.AttachType(C.bpf_program__expected_attach_type(cp)),
	}
	p.slot.Init(p.noFD)
	return p
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
// (bpf_program__type).
func (p *Program) Type() ebpf.ProgramType { return p.typ }

// AttachType returns the expected attach type libbpf derived from the section name
// (bpf_program__expected_attach_type); 0 (ebpf.AttachNone) for types that have none.
func (p *Program) AttachType() ebpf.AttachType { return p.attachType }

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
