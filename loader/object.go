// SPDX-License-Identifier: Apache-2.0

// Package loader runs libbpf's skeleton lifecycle from Go: open a BPF object, set its
// global variables, load it, attach its programs and destroy it, with every kernel
// object owned by the Object and released by Close.
//
// It is the only bpfkit package that uses cgo: it calls libbpf (≥ 1.4) directly, with a
// few C helpers for libbpf's option structs (bpfkit.c). Maps returned by Object.Map
// implement maps.Map, so the typed accessors of package maps work on them. The trace
// pipe, where bpf_printk writes, is read by package loader/tracepipe.
package loader

// #include <stdlib.h>
// #include <bpf/libbpf.h>
// #include "bpfkit.h"
import "C"

import (
	"bytes"
	elfpkg "debug/elf"
	"errors"
	"fmt"
	"log/slog"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"unsafe"

	"github.com/cilium/ebpf/btf"
	"golang.org/x/sys/unix"

	"github.com/bpfkit/bpfkit/internal/caps"
	"github.com/bpfkit/bpfkit/internal/objfile"
	"github.com/bpfkit/bpfkit/internal/sys"
	"github.com/bpfkit/bpfkit/spinlock"
)

// Options configure Open and OpenBytes. A nil *Options means the defaults.
type Options struct {
	// Logger receives libbpf's messages (warnings, info, debug). Nil: warnings go to
	// slog.Default() and the rest is dropped.
	Logger *slog.Logger
	// KernelBTF is the path of the kernel BTF used for CO-RE relocations; empty means
	// the running kernel's (/sys/kernel/btf/vmlinux).
	KernelBTF string
	// LogLevel is the verifier log level for every program (1 = instructions, 2 = with
	// states). Zero asks for no log when a program loads and for a level-1 log when it
	// is rejected, which VerifierError then carries.
	LogLevel uint32
	// LogSize, if not zero, gives each program a verifier log buffer of this many bytes;
	// a log that does not fit makes the load fail with ENOSPC. Zero lets libbpf grow the
	// buffer until the whole log fits (up to 16 MiB).
	LogSize uint32

	// Preflight is the spin-lock check Load runs before anything reaches the kernel
	// (package spinlock): the kernel version whose rules apply and what to do with the
	// findings. The zero value judges against the running kernel and makes Load fail
	// with a *spinlock.Error on error findings (spinlock.Enforce); spinlock.Warn logs
	// them and loads; spinlock.Strict also fails, with a *spinlock.IncompleteError, where
	// the check could not analyse everything (the other modes log that as warnings);
	// spinlock.Off skips the check.
	Preflight spinlock.Preflight

	// PinRoot is the directory, on a BPF file system, where maps declared with
	// __uint(pinning, LIBBPF_PIN_BY_NAME) are pinned under their names; empty means
	// libbpf's default, /sys/fs/bpf. At Load, such a map already pinned there (by
	// another process, or another build of the object) is reused if its type, sizes and
	// flags match, else Load fails; otherwise the new map is pinned there. Close does
	// not remove these pins.
	PinRoot string
}

// Object is an opened BPF object: libbpf's struct bpf_object. It owns its programs,
// maps, links, global-variable mappings and the readers (maps.RingBuf, maps.PerfBuf) made
// from its maps; Close releases them all.
//
// An Object's methods, and those of its handles and of the accessors built on its maps,
// may be called from several goroutines, also while Close runs: an operation either
// completes on this object or fails with ErrClosed, because Close waits for the
// operations in flight before the descriptors are closed. Only the raw descriptors that
// FD methods return are the caller's to keep from outliving Close.
type Object struct {
	name  string
	elf   []byte    // the object file, for the spin-lock check
	spec  *btf.Spec // the object's BTF; nil if it has none
	opts  Options
	sink  logSink
	leak  *sys.Leak
	progs []*Program
	maps  []*Map

	btfMu   sync.Mutex           // guards btfID and btfSpec
	btfID   uint32               // the kernel ID of the object's BTF once loaded; 0 until known
	btfSpec map[uint32]*btf.Spec // other BTF objects of the kernel, by ID (kernelBTF)

	mu      sync.RWMutex         // held for writing by Load, Close and link changes
	cobj    *C.struct_bpf_object // libbpf's object; nil once closed
	loaded  bool
	failed  error // the error of a bpf_object__load that failed: libbpf allows no second try
	closed  atomic.Bool
	links   []*Link
	auto    map[*Program]*Link // links made by Attach, so that Attach is idempotent
	globals map[string]*global
	logBufs []*logBuffer

	// memMu orders the copies into and out of global-data memory: SetGlobal and
	// SetSection write under it, Global and ReadSection read under its read lock.
	memMu sync.RWMutex
	// attachMu serializes Attach, so that two concurrent calls cannot both find a program
	// unattached and attach it twice.
	attachMu sync.Mutex
}

// Open opens the BPF object file at path. Nothing is sent to the kernel until Load.
func Open(path string, opts *Options) (*Object, error) {
	b, err := os.ReadFile(path)
	if err != nil {
		return nil, fmt.Errorf("opening BPF object: %w", err)
	}
	return OpenBytes(filepath.Base(path), b, opts)
}

// OpenBytes opens a BPF object from its ELF bytes (for example from //go:embed); name
// names it in messages and, up to its first dot, becomes libbpf's object name (the
// prefix of its global-data maps: "minimal.bpf.o" gives "minimal.bss"). The bytes are
// copied; the caller may reuse them.
func OpenBytes(name string, elf []byte, opts *Options) (*Object, error) {
	if name == "" {
		name = "bpf-object"
	}
	if len(elf) == 0 {
		return nil, fmt.Errorf("opening BPF object %s: empty input", name)
	}
	o := &Object{name: name, elf: bytes.Clone(elf)}
	if opts != nil {
		o.opts = *opts
	}
	o.sink.logger = o.opts.Logger

	// The section headers name the global-data sections; a file debug/elf cannot read
	// is left for libbpf to refuse in its own words.
	f := readELF(o.elf)
	if err := o.readBTF(f); err != nil {
		return nil, fmt.Errorf("opening BPF object %s: reading its BTF: %w", name, err)
	}
	if err := o.open(); err != nil {
		return nil, err
	}
	if err := o.index(f); err != nil {
		o.closeC()
		return nil, fmt.Errorf("opening BPF object %s: %w", name, err)
	}
	o.leak = sys.TrackLeak(o, "loader.Object", o.name,
		"its programs, maps and links stay until the process exits", nil)
	return o, nil
}

// readELF reads the object's ELF headers, or returns nil for bytes debug/elf cannot
// read (it may panic on malformed input: the bytes are untrusted).
func readELF(b []byte) (f *elfpkg.File) {
	defer func() {
		if recover() != nil {
			f = nil
		}
	}()
	f, err := elfpkg.NewFile(bytes.NewReader(b))
	if err != nil {
		return nil
	}
	return f
}

// readBTF reads the object's BTF (none: programs still load, but globals and map types
// are unknown). Types are decoded when first asked for, so BTF that only libbpf uses
// (typed __ksym variables, kconfig externs) is never read here.
//
// When Load will run the spin-lock check on an object that mentions locks, the check
// parses the whole object (objfile.Parse, cached by content): its BTF is taken from
// that parse, so that the check at Load finds the parse ready, unless the parse had to
// rewrite the bytes first (its BTF is then not exactly the object's). Otherwise a
// variable's offset in its DATASEC is its ELF symbol's (objfile.AlignedBTF), which is
// where the code and libbpf place it when the two disagree (an object linked from parts
// that define it __weak and strong).
func (o *Object) readBTF(f *elfpkg.File) error {
	if f != nil && o.opts.Preflight.Mode != spinlock.Off && objfile.MentionsLocks(f) && objfile.BoundSections(f, len(o.elf)) == nil {
		if p, err := objfile.Parse(o.elf); err == nil && !p.Changed && p.Spec.Types != nil {
			o.spec = p.Spec.Types
			return nil
		}
	}
	spec, err := btf.LoadSpecFromReader(bytes.NewReader(objfile.AlignedBTF(o.elf, f)))
	switch {
	case err == nil:
		o.spec = spec
	case errors.Is(err, btf.ErrNotFound):
	default:
		return err
	}
	return nil
}

// open opens the object with libbpf (bpf_object__open_mem) from a C copy of its bytes,
// which libbpf reads during the call only. libbpf ≥ 1.0 raises RLIMIT_MEMLOCK itself
// only on kernels that need it (before 5.11, which charge BPF memory to the cgroup).
func (o *Object) open() error {
	buf := C.CBytes(o.elf)
	defer C.free(buf)
	cname := C.CString(libbpfObjectName(o.name))
	defer C.free(unsafe.Pointer(cname))
	var cbtf, cpin *C.char
	if o.opts.KernelBTF != "" {
		cbtf = C.CString(o.opts.KernelBTF)
		defer C.free(unsafe.Pointer(cbtf))
	}
	if o.opts.PinRoot != "" {
		cpin = C.CString(o.opts.PinRoot)
		defer C.free(unsafe.Pointer(cpin))
	}
	var rc C.long
	out := withLibbpf(&o.sink, func() {
		o.cobj = C.bk_open(buf, C.size_t(len(o.elf)), cname, cbtf, cpin, C.uint(o.opts.LogLevel), &rc)
	})
	if o.cobj == nil {
		return o.failure("opening BPF object "+o.name, syscall.Errno(-rc), out)
	}
	o.sink.emit(out, nil)
	return nil
}

// libbpfObjectName is the name libbpf gives the object: name up to its first dot, as
// libbpf does for a file ("minimal.bpf.o" → "minimal", whose maps are "minimal.bss" …).
func libbpfObjectName(name string) string {
	if i := strings.IndexByte(name, '.'); i > 0 {
		return name[:i]
	}
	return name
}

// index builds the Program and Map handles and the table of global variables.
func (o *Object) index(f *elfpkg.File) error {
	for cp := C.bpf_object__next_program(o.cobj, nil); cp != nil; cp = C.bpf_object__next_program(o.cobj, cp) {
		o.progs = append(o.progs, newProgram(o, cp))
	}
	for cm := C.bpf_object__next_map(o.cobj, nil); cm != nil; cm = C.bpf_object__next_map(o.cobj, cm) {
		o.maps = append(o.maps, newMap(o, cm))
	}
	return o.indexGlobals(f)
}

// Name returns the name the object was opened with (the file's base name for Open).
func (o *Object) Name() string { return o.name }

// Programs returns the object's programs in ELF order.
func (o *Object) Programs() []*Program { return slices.Clone(o.progs) }

// Program returns the program named name (its C function name). The error wraps
// ErrNotFound and lists the programs that exist.
func (o *Object) Program(name string) (*Program, error) {
	if err := o.usable(); err != nil {
		return nil, err
	}
	for _, p := range o.progs {
		if p.name == name {
			return p, nil
		}
	}
	names := make([]string, len(o.progs))
	for i, p := range o.progs {
		names[i] = p.name
	}
	return nil, notFound(o.name, "program", name, names)
}

// Maps returns the object's maps, including its global-data maps (.bss, .data, .rodata…).
func (o *Object) Maps() []*Map { return slices.Clone(o.maps) }

// Map returns the map named name: its name in the C source, or for global data its
// section (".bss") or libbpf's name for it ("minimal.bss"). The error wraps ErrNotFound
// and lists the maps that exist.
func (o *Object) Map(name string) (*Map, error) {
	if err := o.usable(); err != nil {
		return nil, err
	}
	for _, m := range o.maps {
		if m.name == name || (m.section != "" && m.section == name) {
			return m, nil
		}
	}
	names := make([]string, len(o.maps))
	for i, m := range o.maps {
		names[i] = m.name
	}
	return nil, notFound(o.name, "map", name, names)
}

// beforeLoad runs fn, a setter that only works before Load, under the object's write
// lock; op names what is set, for errors.
func (o *Object) beforeLoad(op string, fn func() error) error {
	if err := o.usable(); err != nil {
		return err
	}
	o.mu.Lock()
	defer o.mu.Unlock()
	if err := o.usable(); err != nil {
		return err
	}
	if o.loaded {
		return fmt.Errorf("%s: %w", op, ErrAlreadyLoaded)
	}
	if err := fn(); err != nil {
		return fmt.Errorf("%s: %w", op, err)
	}
	return nil
}

// afterLoad runs fn, a libbpf call on a handle that must be loaded (fd reports whether
// it is), while the object is open; op names the operation, for errors.
func (o *Object) afterLoad(op string, fd func() (int, error), fn func() error) error {
	if _, err := fd(); err != nil {
		return err
	}
	return o.whileOpen(func() error {
		if err := fn(); err != nil {
			return fmt.Errorf("%s: %w", op, err)
		}
		return nil
	})
}

// whileOpen runs fn under the object's read lock once the object is known to be open,
// so that fn's libbpf calls and memory accesses never see what Close freed. It returns
// ErrClosed instead of calling fn on a closed object.
func (o *Object) whileOpen(fn func() error) error {
	if err := o.usable(); err != nil {
		return err
	}
	o.mu.RLock()
	defer o.mu.RUnlock()
	if err := o.usable(); err != nil {
		return err
	}
	return fn()
}

// usable returns ErrClosed (with the object's name) once the object is closed.
func (o *Object) usable() error {
	if o == nil {
		return fmt.Errorf("nil *loader.Object: %w", ErrClosed)
	}
	if o.closed.Load() {
		return fmt.Errorf("object %s: %w", o.name, ErrClosed)
	}
	return nil
}

// Load creates the object's maps and loads its programs into the kernel
// (bpf_object__load). Before that, unless Options.Preflight's mode is spinlock.Off, it
// runs the spin-lock check and returns a *spinlock.Error (or, strict, a
// *spinlock.IncompleteError) without touching the kernel if the check says so. A program
// the verifier rejects gives a *VerifierError with the log; a refusal libbpf explains
// (a map it cannot create, a program without a type, a missing attach target …) a
// *LoadError with libbpf's words; a refusal for lack of privilege a *PrivilegeError.
// Load succeeds once: a second call, or a call after the kernel refused the object,
// returns ErrAlreadyLoaded (a Load stopped by the spin-lock check may be retried, for
// example after SetAutoload).
func (o *Object) Load() error {
	if err := o.usable(); err != nil {
		return err
	}
	o.mu.Lock()
	defer o.mu.Unlock()
	if o.closed.Load() {
		return fmt.Errorf("object %s: %w", o.name, ErrClosed)
	}
	if o.loaded {
		return fmt.Errorf("loading %s: %w", o.name, ErrAlreadyLoaded)
	}
	if o.failed != nil {
		return fmt.Errorf("loading %s: libbpf allows one load per object and it failed (%v); open the object again: %w", o.name, o.failed, ErrAlreadyLoaded)
	}
	if err := o.preflight(); err != nil {
		return err
	}
	if err := o.setLogBuffers(); err != nil {
		return err
	}
	var rc C.int
	out := withLibbpf(&o.sink, func() { rc = C.bpf_object__load(o.cobj) })
	logs := o.takeLogBuffers()
	o.closeSetterFDs()
	if rc < 0 {
		o.failed = o.loadError(syscall.Errno(-rc), out, logs)
		return o.failed
	}
	o.sink.emit(out, nil)
	o.loaded = true
	for _, m := range o.maps {
		if fd := C.bpf_map__fd(m.cm); fd >= 0 {
			m.slot.Set(sys.BorrowFD(int(fd)))
		}
	}
	for _, p := range o.progs {
		if fd := C.bpf_program__fd(p.cp); fd >= 0 {
			p.slot.Set(sys.BorrowFD(int(fd)))
		}
	}
	return nil
}

// loadError turns bpf_object__load's failure into the most precise error available
// (a *VerifierError, a *LoadError with libbpf's diagnosis, a *PrivilegeError) and logs
// libbpf's output, except what the error says.
func (o *Object) loadError(errno syscall.Errno, out libbpfOutput, bufLogs map[string]string) error {
	op := "loading " + o.name
	failed, logs := verifierLogs(out.text())
	for name, l := range bufLogs {
		logs[name] = l
	}
	if errno < libbpfErrnoStart {
		if errno == syscall.ENOSPC && o.opts.LogSize > 0 {
			// The kernel cut the log to the buffer: what is left is no diagnosis.
			o.sink.emit(out, nil)
			return fmt.Errorf("loading program %q of %s: its verifier log needs more than Options.LogSize (%d bytes): %w", failed, o.name, o.opts.LogSize, errno)
		}
		if log, ok := logs[failed]; ok && failed != "" && log != "" {
			d, ok := out.diagnose()
			o.sink.emit(out, out.failureSaid(d, ok && d.program == failed))
			return newVerifierError(o.name, failed, log, errno)
		}
	}
	return o.failure(op, errno, out)
}

// failure builds the error of a libbpf call that failed with errno from what libbpf
// printed during it (its diagnosis), and logs that output, except the messages the
// error carries. op names the operation: "loading x.bpf.o", "opening BPF object x.bpf.o".
func (o *Object) failure(op string, errno syscall.Errno, out libbpfOutput) error {
	d, ok := out.diagnose()
	o.sink.emit(out, out.failureSaid(d, ok))
	if d.program == "" && d.mapName == "" {
		// libbpf names the program in the message that wraps the errno
		if failed, _ := verifierLogs(out.text()); failed != "" {
			d.program = failed
		}
	}
	if op == "loading "+o.name {
		switch {
		case d.program != "":
			op = fmt.Sprintf("loading program %q of %s", d.program, o.name)
		case d.mapName != "":
			op = fmt.Sprintf("loading map %q of %s", d.mapName, o.name)
		}
	}
	if errno == syscall.EPERM {
		return &PrivilegeError{Op: op, Missing: caps.MissingForBPF(), Err: errno}
	}
	if !ok {
		return wrapErrno(op, errno)
	}
	d.words, d.full = withoutErrnoText(d.words, errno), withoutErrnoText(d.full, errno)
	e := &LoadError{Object: o.name, Program: d.program, Map: d.mapName, Libbpf: d.full,
		Err: libbpfErrno(errno), op: op}
	if strings.Contains(d.words, "BTF is required") && o.spec == nil {
		e.Err = ErrNoBTF
	}
	e.Hint = o.hint(d)
	return e
}

// hint says what to do about a failure libbpf diagnosed, where bpfkit knows.
func (o *Object) hint(d diagnosis) string {
	switch {
	case strings.Contains(d.words, "missing BPF prog type"):
		return "give the program a type with Program.SetType before Load"
	case strings.HasPrefix(d.words, "failed to find kernel BTF type ID of"):
		return "the running kernel has no such function: name another with Program.SetAttachTarget, or leave the program out with SetAutoload(false)"
	case strings.HasPrefix(d.words, "failed to find BTF for extern"):
		return "the object uses a symbol defined in another object: link them into one first (bpftool gen object)"
	case d.mapName != "" && strings.Contains(d.words, "failed to create"):
		for _, m := range o.maps {
			if m.name != d.mapName {
				continue
			}
			var unset []string
			if C.bpf_map__value_size(m.cm) == 0 {
				unset = append(unset, "value size (Map.SetValueSize)")
			}
			if C.bpf_map__max_entries(m.cm) == 0 {
				unset = append(unset, "max entries (Map.SetMaxEntries)")
			}
			if len(unset) > 0 {
				return "its " + strings.Join(unset, " and ") + " must be set before Load"
			}
		}
	}
	return ""
}

// closeSetterFDs closes the descriptors SetInnerMap and SetAttachTarget kept for libbpf,
// which needs them only during Load. The caller holds o.mu for writing.
func (o *Object) closeSetterFDs() {
	for _, m := range o.maps {
		if m.innerFD >= 0 {
			unix.Close(m.innerFD)
			m.innerFD = -1
		}
	}
	for _, p := range o.progs {
		p.closeTargetFD()
	}
}

// kernelBTF returns the kernel's BTF object of ID id as a spec: this object's own BTF
// when id is the one libbpf loaded for it (libbpf keeps the object's type IDs), else the
// kernel's, read by ID once per object.
func (o *Object) kernelBTF(id uint32) (*btf.Spec, error) {
	o.btfMu.Lock()
	defer o.btfMu.Unlock()
	if o.btfID == 0 && o.spec != nil {
		err := o.whileOpen(func() error {
			fd := C.bpf_object__btf_fd(o.cobj)
			if fd < 0 {
				return nil // libbpf loaded no BTF for the object
			}
			var err error
			o.btfID, err = sys.ObjBTFID(int(fd))
			return err
		})
		if err != nil {
			return nil, fmt.Errorf("reading the ID of the object's BTF: %w", err)
		}
	}
	if id == o.btfID && o.spec != nil {
		return o.spec, nil
	}
	if spec := o.btfSpec[id]; spec != nil {
		return spec, nil
	}
	h, err := btf.NewHandleFromID(btf.ID(id))
	if err != nil {
		return nil, fmt.Errorf("opening the kernel's BTF %d of the map: %w", id, err)
	}
	defer h.Close()
	spec, err := h.Spec(nil)
	if err != nil {
		// split BTF (a module's) needs the kernel's as its base
		base, berr := btf.LoadKernelSpec()
		if berr != nil {
			return nil, fmt.Errorf("reading the kernel's BTF %d of the map: %w", id, err)
		}
		if spec, err = h.Spec(base); err != nil {
			return nil, fmt.Errorf("reading the kernel's BTF %d of the map: %w", id, err)
		}
	}
	if o.btfSpec == nil {
		o.btfSpec = map[uint32]*btf.Spec{}
	}
	o.btfSpec[id] = spec
	return spec, nil
}

// Attach attaches every program that is loaded and whose section names its attach
// point (SEC("tp/syscalls/sys_enter_write"), SEC("tp_btf/…"), SEC("raw_tp/…"), …), like
// the C skeleton's __attach. Programs whose section names none (SEC("xdp"), SEC("tc"),
// SEC("socket") …) are left for the Attach… method that takes their target. The links
// belong to the object. Attach is idempotent; if one program fails, the links made by
// this call are destroyed and the error names the program.
func (o *Object) Attach() error {
	if err := o.usable(); err != nil {
		return err
	}
	// One Attach at a time: each sees the links the previous one made, so that two
	// concurrent calls cannot attach a program twice.
	o.attachMu.Lock()
	defer o.attachMu.Unlock()
	if !o.isLoaded() {
		return fmt.Errorf("attaching %s: %w", o.name, ErrNotLoaded)
	}
	var made []*Link
	for _, p := range o.progs {
		if !p.Autoload() || o.autoLink(p) != nil {
			continue
		}
		l, err := p.Attach()
		if errors.Is(err, ErrNoAttachPoint) {
			continue
		}
		if err != nil {
			for _, l := range made {
				_ = l.Close()
			}
			return err
		}
		made = append(made, l)
		o.mu.Lock()
		if o.auto == nil {
			o.auto = map[*Program]*Link{}
		}
		o.auto[p] = l
		o.mu.Unlock()
	}
	return nil
}

func (o *Object) autoLink(p *Program) *Link {
	o.mu.RLock()
	defer o.mu.RUnlock()
	return o.auto[p]
}

func (o *Object) isLoaded() bool {
	o.mu.RLock()
	defer o.mu.RUnlock()
	return o.loaded
}

// Links returns the links the object owns (made by Attach and every Attach… method).
func (o *Object) Links() []*Link {
	o.mu.RLock()
	defer o.mu.RUnlock()
	return slices.Clone(o.links)
}

// Close destroys the object's links, then the object (its programs and maps, unless
// pinned), like the C skeleton's __destroy. It is idempotent and safe on a nil
// *Object; afterwards every handle of the object returns ErrClosed. Pointers returned by
// MapSection stay valid: Close turns their memory into ordinary memory holding the last
// values, no longer shared with the kernel.
func (o *Object) Close() error {
	if o == nil {
		return nil
	}
	o.mu.Lock()
	defer o.mu.Unlock()
	if o.closed.Swap(true) {
		return nil
	}
	var errs []error
	for _, l := range o.links {
		if err := l.destroy(); err != nil {
			errs = append(errs, err)
		}
	}
	o.links, o.auto = nil, nil
	// No operation may be in flight on a descriptor libbpf is about to close: close the
	// readers made from the maps, then wait for the operations that started before.
	for _, m := range o.maps {
		if f := m.slot.Load(); f != nil {
			_ = f.Close()
		}
	}
	for _, p := range o.progs {
		if f := p.slot.Load(); f != nil {
			_ = f.Close()
		}
	}
	for _, m := range o.maps {
		if err := m.detach(); err != nil {
			errs = append(errs, err)
		}
	}
	o.closeSetterFDs()
	o.closeC()
	o.cobj = nil
	o.freeLogBuffers()
	o.leak.Closed()
	if len(errs) > 0 {
		return fmt.Errorf("closing %s: %w", o.name, errors.Join(errs...))
	}
	return nil
}

// closeC closes libbpf's object; what libbpf says meanwhile goes to the object's logger,
// like everything else it says about the object.
func (o *Object) closeC() {
	o.sink.emit(withLibbpf(&o.sink, func() { C.bpf_object__close(o.cobj) }), nil)
}
