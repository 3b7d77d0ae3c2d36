// SPDX-License-Identifier: Apache-2.0

//go:build cgo

package loader

import (
	"errors"
	"fmt"
	"strings"
	"syscall"

	"github.com/bpfkit/bpfkit/internal/caps"
	"github.com/bpfkit/bpfkit/internal/sys"
)

var (
	// ErrClosed is returned by every method of an Object, Program, Map or Link after the
	// Object (or the Link) has been closed. It is the same error as maps.ErrClosed.
	ErrClosed = sys.ErrClosed
	// ErrNotLoaded is returned by operations that need the kernel objects (attach, FD,
	// test runs, pinning, MapSection) before Load.
	ErrNotLoaded = errors.New("object not loaded")
	// ErrAlreadyLoaded is returned by a second Load and by setters that only work before
	// Load (SetAutoload, SetMaxEntries).
	ErrAlreadyLoaded = errors.New("object already loaded")
	// ErrNotFound is returned for an unknown program, map, global variable or global-data
	// section; the error's text lists the names that exist.
	ErrNotFound = errors.New("not found")
	// ErrReadOnly is returned when writing a .rodata variable or section after Load, or
	// mapping one with MapSection: the kernel has frozen the map.
	ErrReadOnly = errors.New("read-only after load")
	// ErrNotSupported is wrapped when the running kernel is too old for an operation;
	// the error names the kernel version it needs. It is the same error as
	// maps.ErrNotSupported.
	ErrNotSupported = sys.ErrNotSupported
	// ErrLayout is wrapped when a Go value does not match the BTF of a global variable or
	// section (SetGlobal, Global, SetSection, ReadSection, MapSection): not plain data, or
	// another size or layout; the error names the first field that differs. It is the
	// same error as maps.ErrLayout.
	ErrLayout = sys.ErrLayout
	// ErrNoAttachPoint is returned by Program.Attach when the program's section names no
	// attach point (for example SEC("xdp")): use the Attach method that takes one.
	ErrNoAttachPoint = errors.New("section names no attach point")
	// ErrNoBTF is wrapped when an object needs BTF it does not have (libbpf: "BTF is
	// required, but is missing or corrupted", for maps defined in SEC(".maps")): build
	// it with clang -g.
	ErrNoBTF = errors.New("the object has no BTF (compile it with clang -g)")
)

// LoadError is returned by Open and Load when libbpf refuses the object for a reason of
// its own (the verifier's refusals are *VerifierError): it names the program or map
// libbpf named and carries libbpf's diagnosis, the words libbpf printed about the
// failure in this object's log, around the errno. For example
//
//	loading map "stackmap" of capable.bpf.o: failed to create (its value size (Map.SetValueSize) and max entries (Map.SetMaxEntries) must be set before Load): invalid argument
//	loading program "dummy_fentry" of funclatency.bpf.o: failed to find kernel BTF type ID of 'dummy_fentry' (…): no such process
//
// Reach it with errors.As; it unwraps to the errno.
type LoadError struct {
	Object  string // the object's name
	Program string // the program libbpf named, if any
	Map     string // the map libbpf named, if any
	// Libbpf is libbpf's message without its errno, e.g. "map 'stackmap': failed to
	// create" or "prog 'handle': missing BPF prog type, check ELF section name 'hook'".
	Libbpf string
	// Hint says what to do about it, when bpfkit knows ("" otherwise).
	Hint string
	// Err is the errno (a syscall.Errno, or a *LibbpfError for libbpf's own codes).
	Err error

	op string // what failed: "loading capable.bpf.o", `loading program "x" of y.bpf.o`
}

func (e *LoadError) Error() string {
	// the operation names the program or map already
	words := strings.TrimPrefix(e.Libbpf, "prog '"+e.Program+"': ")
	words = strings.TrimPrefix(words, "map '"+e.Map+"': ")
	var b strings.Builder
	b.WriteString(e.op)
	if words != "" {
		b.WriteString(": ")
		b.WriteString(words)
	}
	if e.Hint != "" {
		fmt.Fprintf(&b, " (%s)", e.Hint)
	}
	if e.Err != nil {
		fmt.Fprintf(&b, ": %v", e.Err)
	}
	return b.String()
}

// Unwrap returns the errno.
func (e *LoadError) Unwrap() error { return e.Err }

// PrivilegeError is returned when the kernel refuses an operation for lack of privilege.
// It names the capabilities the process lacks and unwraps to EPERM.
type PrivilegeError struct {
	Op      string   // what was refused, e.g. `loading minimal.bpf.o`
	Missing []string // e.g. ["CAP_BPF", "CAP_PERFMON"]; empty if the process has them all
	Err     error    // the errno, normally EPERM
}

func (e *PrivilegeError) Error() string {
	if len(e.Missing) == 0 {
		return fmt.Sprintf("%s: %v (the process has CAP_BPF and CAP_PERFMON: a security module, a sysctl such as kernel.unprivileged_bpf_disabled, or the kernel's lockdown refused it)", e.Op, e.Err)
	}
	return fmt.Sprintf("%s: %v: the process lacks %s (run as root, or grant them with setcap/ambient capabilities)", e.Op, e.Err, strings.Join(e.Missing, " and "))
}

func (e *PrivilegeError) Unwrap() error { return e.Err }

// wrapErrno turns a negative errno from libbpf into an error, adding the privilege
// diagnosis for EPERM.
func wrapErrno(op string, errno syscall.Errno) error {
	if errno == syscall.EPERM {
		return &PrivilegeError{Op: op, Missing: caps.MissingForBPF(), Err: errno}
	}
	return fmt.Errorf("%s: %w", op, libbpfErrno(errno))
}

// notFound builds an ErrNotFound error that lists the names that exist.
func notFound(object, kind, name string, have []string) error {
	list := "none"
	if len(have) > 0 {
		list = strings.Join(have, ", ")
	}
	return fmt.Errorf("%s has no %s %q (it has: %s): %w", object, kind, name, list, ErrNotFound)
}
