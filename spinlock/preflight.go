// SPDX-License-Identifier: Apache-2.0

package spinlock

import (
	"context"
	"fmt"
	"log/slog"
	"strings"

	"github.com/cilium/ebpf"
)

// Mode says what a Preflight does with the check's findings.
type Mode int

const (
	// Enforce, the default, fails the load with an *Error when the check has error
	// findings.
	Enforce Mode = iota
	// Warn logs every finding as a warning and lets the load go on.
	Warn
	// Strict is Enforce, and also fails the load, with an *IncompleteError, where the
	// check could not vouch for the object: an object or program it could not read or
	// analyse to the end, a section that names no program type, a kernel version
	// outside those its rules were checked against (Report.Incomplete and Report.Notes,
	// which the other modes log as warnings).
	Strict
	// Off skips the check.
	Off
)

// String returns "enforce", "warn", "strict" or "off".
func (m Mode) String() string {
	switch m {
	case Enforce:
		return "enforce"
	case Warn:
		return "warn"
	case Strict:
		return "strict"
	case Off:
		return "off"
	}
	return fmt.Sprintf("Mode(%d)", int(m))
}

// Preflight is the check a loader runs on an object before anything of it reaches the
// kernel (loader.Options.Preflight): the kernel to judge against and what to do with
// the findings. The zero value judges against the running kernel and fails the load on
// error findings.
type Preflight struct {
	// Kernel is the kernel version whose rules apply (not the kernel the object loads
	// into); zero means the running kernel.
	Kernel Version
	Mode   Mode
}

// Run checks the object elf, named name in messages, for the programs that will load:
// programs maps each to its type as the loader resolved it. Findings and notes about
// the object's other programs are dropped. Warnings, and under Warn every finding, go
// to log (slog.Default() if nil). It returns what should stop the load: an *Error, an
// *IncompleteError (Strict only), or nil.
//
// An object the check cannot read is not refused (libbpf may open what the check
// cannot; the kernel judges it then): Run logs why, and only Strict fails.
func (p Preflight) Run(elf []byte, name string, programs map[string]ebpf.ProgramType, log *slog.Logger) error {
	if p.Mode == Off {
		return nil
	}
	if log == nil {
		log = slog.Default()
	}
	warn := func(msg string, args ...any) {
		log.Log(context.Background(), slog.LevelWarn, msg, append([]any{"object", name}, args...)...)
	}
	report, err := Check(elf, &Options{Kernel: p.Kernel, ProgramTypes: programs, Name: name})
	if err != nil {
		if p.Mode == Strict {
			return &IncompleteError{Object: name, Kernel: p.Kernel, Err: err}
		}
		warn("the spin-lock check could not read the object; loading without it", "error", err)
		return nil
	}
	report = report.only(programs)
	if p.Mode == Warn {
		for _, f := range report.Findings {
			warn("spin-lock check: "+f.String(), "rule", f.Rule, "program", f.Program, "map", f.Map)
		}
	} else if err := report.Err(); err != nil {
		return err
	}
	incomplete := report.Incomplete()
	if p.Mode == Strict && (len(incomplete) > 0 || len(report.Notes) > 0) {
		return &IncompleteError{Object: name, Kernel: report.Kernel, Incomplete: incomplete, Notes: report.Notes}
	}
	if p.Mode != Warn { // Warn logged every finding already
		for _, f := range incomplete {
			warn("spin-lock check incomplete: "+f.String(), "program", f.Program)
		}
	}
	for _, n := range report.Notes {
		warn("spin-lock check incomplete: " + n)
	}
	return nil
}

// only returns a copy of r without the findings and notes about programs missing from
// programs (a note about a program starts with `program "NAME"`).
func (r *Report) only(programs map[string]ebpf.ProgramType) *Report {
	out := &Report{Object: r.Object, Kernel: r.Kernel}
	for _, f := range r.Findings {
		if _, ok := programs[f.Program]; f.Program == "" || ok {
			out.Findings = append(out.Findings, f)
		}
	}
	for _, n := range r.Notes {
		if rest, ok := strings.CutPrefix(n, `program "`); ok {
			if prog, _, ok := strings.Cut(rest, `"`); ok {
				if _, loads := programs[prog]; !loads {
					continue
				}
			}
		}
		out.Notes = append(out.Notes, n)
	}
	return out
}

// IncompleteError is returned by Preflight.Run under Strict when the check found no
// error but could not analyse everything. Reach it with errors.As.
type IncompleteError struct {
	Object string
	Kernel Version // the kernel version the rules were applied for; zero: the running one
	// Incomplete are the check's warnings without a rule (Report.Incomplete).
	Incomplete []Finding
	// Notes say where the analysis stopped short (Report.Notes).
	Notes []string
	// Err is why the check could not read the object at all, if that is the reason.
	Err error
}

func (e *IncompleteError) Error() string {
	var b strings.Builder
	kernel := "the running kernel"
	if !e.Kernel.IsZero() {
		kernel = "kernel " + e.Kernel.String()
	}
	fmt.Fprintf(&b, "the spin-lock check of %s for %s is incomplete, and the preflight is strict", e.Object, kernel)
	if e.Err != nil {
		fmt.Fprintf(&b, ": %v", e.Err)
	}
	for _, f := range e.Incomplete {
		b.WriteString("\n")
		b.WriteString(f.String())
	}
	for _, n := range e.Notes {
		b.WriteString("\nnote: ")
		b.WriteString(n)
	}
	return b.String()
}

// Unwrap returns why the check could not read the object, if it could not.
func (e *IncompleteError) Unwrap() error { return e.Err }
