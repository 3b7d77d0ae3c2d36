// SPDX-License-Identifier: Apache-2.0

//go:build cgo

package loader

import (
	"context"
	"fmt"
	"log/slog"
	"strings"

	"github.com/cilium/ebpf"

	"github.com/bpfkit/bpfkit/spinlock"
)

// CheckMode selects what Load does with the findings of the spin-lock check
// (Options.SpinLockCheck).
type CheckMode int

const (
	// CheckError, the default, makes Load return a *spinlock.Error when the check has
	// error findings; nothing is sent to the kernel then.
	CheckError CheckMode = iota
	// CheckWarn logs the findings as warnings to Options.Logger and loads anyway.
	CheckWarn
	// CheckOff skips the check.
	CheckOff
	// CheckStrict is CheckError, and also fails Load, with a *CheckIncompleteError and
	// before anything reaches the kernel, where the check could not vouch for the
	// object: an object or program it could not analyse, a section that names no
	// program type, a kernel version outside those its rules were checked against
	// (spinlock.Report's Incomplete and Notes, which the other modes log as warnings).
	CheckStrict
)

// CheckIncompleteError is returned by Load under CheckStrict when the spin-lock check
// found no error but could not analyse everything. Reach it with errors.As.
type CheckIncompleteError struct {
	Object string
	Kernel spinlock.Version // the kernel version the rules were applied for
	// Incomplete are the check's warnings without a rule (Report.Incomplete).
	Incomplete []spinlock.Finding
	// Notes say where the analysis stopped short (Report.Notes).
	Notes []string
	// Err is why the check could not read the object at all, if that is the reason.
	Err error
}

func (e *CheckIncompleteError) Error() string {
	var b strings.Builder
	kernel := "the running kernel"
	if !e.Kernel.IsZero() {
		kernel = "kernel " + e.Kernel.String()
	}
	fmt.Fprintf(&b, "loading %s: the spin-lock check for %s is incomplete, and Options.SpinLockCheck is CheckStrict", e.Object, kernel)
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
func (e *CheckIncompleteError) Unwrap() error { return e.Err }

// preflight runs the spin-lock check before Load (see Options.SpinLockCheck) on the programs
// that will load, with the program types libbpf resolved or the setters gave. What the
// check could not analyse is logged as warnings, or under CheckStrict fails Load. The
// caller holds o.mu for writing.
func (o *Object) preflight() error {
	mode := o.opts.SpinLockCheck
	if mode == CheckOff {
		return nil
	}
	types := map[string]ebpf.ProgramType{}
	skip := map[string]bool{}
	for _, p := range o.progs {
		types[p.name] = p.Type()
		if !p.autoloadLocked() {
			skip[p.name] = true
		}
	}
	report, err := spinlock.Check(o.elf, &spinlock.Options{Kernel: o.opts.Kernel, ProgramTypes: types, Name: o.name})
	if err != nil {
		if mode == CheckStrict {
			return &CheckIncompleteError{Object: o.name, Kernel: o.opts.Kernel, Err: err}
		}
		// libbpf could open what the check cannot read: let the kernel judge it.
		o.warn("the spin-lock check could not read the object; loading without it", "error", err)
		return nil
	}
	var kept []spinlock.Finding
	for _, f := range report.Findings {
		if f.Program == "" || !skip[f.Program] {
			kept = append(kept, f)
		}
	}
	report = &spinlock.Report{Object: report.Object, Kernel: report.Kernel, Findings: kept, Notes: notesFor(report.Notes, skip)}
	if mode == CheckWarn {
		for _, f := range report.Findings {
			o.warn("spin-lock check: "+f.String(), "rule", f.Rule, "program", f.Program, "map", f.Map)
		}
	}
	if err := report.Err(); err != nil && (mode == CheckError || mode == CheckStrict) {
		return fmt.Errorf("loading %s: %w", o.name, err)
	}
	incomplete := report.Incomplete()
	if mode == CheckStrict && (len(incomplete) > 0 || len(report.Notes) > 0) {
		return &CheckIncompleteError{Object: o.name, Kernel: report.Kernel, Incomplete: incomplete, Notes: report.Notes}
	}
	if mode != CheckWarn { // CheckWarn logged every finding already
		for _, f := range incomplete {
			o.warn("spin-lock check incomplete: "+f.String(), "program", f.Program)
		}
	}
	for _, n := range report.Notes {
		o.warn("spin-lock check incomplete: " + n)
	}
	return nil
}

// notesFor drops the notes about programs that will not load (a note about a program
// starts with `program "NAME"`).
func notesFor(notes []string, skip map[string]bool) []string {
	var out []string
	for _, n := range notes {
		if rest, ok := strings.CutPrefix(n, `program "`); ok {
			if name, _, ok := strings.Cut(rest, `"`); ok && skip[name] {
				continue
			}
		}
		out = append(out, n)
	}
	return out
}

// warn logs to the object's logger, or slog.Default() when it has none.
func (o *Object) warn(msg string, args ...any) {
	logger := o.opts.Logger
	if logger == nil {
		logger = slog.Default()
	}
	logger.Log(context.Background(), slog.LevelWarn, msg, append([]any{"object", o.name}, args...)...)
}

// ruleForVerifierLog names the spin-lock rule (docs/SPINLOCK.md) whose kernel words a
// verifier log ends with, if any.
func ruleForVerifierLog(log string) string {
	return spinlock.RuleForVerifierLog(log)
}
