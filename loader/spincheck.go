// SPDX-License-Identifier: Apache-2.0

package loader

import (
	"context"
	"fmt"
	"log/slog"

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
)

// preflight runs the spin-lock check before Load (see Options.SpinLockCheck) on the programs
// that will load, with the program types libbpf resolved. The caller holds o.mu for
// writing.
func (o *Object) preflight() error {
	if o.opts.SpinLockCheck == CheckOff {
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
		// libbpf could open what the check cannot read: let the kernel judge it.
		o.warn("the spin-lock check could not read the object; loading without it", "error", err)
		return nil
	}
	kept := report.Findings[:0]
	for _, f := range report.Findings {
		if f.Program == "" || !skip[f.Program] {
			kept = append(kept, f)
		}
	}
	report.Findings = kept
	if o.opts.SpinLockCheck == CheckWarn {
		for _, f := range report.Findings {
			o.warn("spin-lock check: "+f.String(), "rule", f.Rule, "program", f.Program, "map", f.Map)
		}
		return nil
	}
	if err := report.Err(); err != nil {
		return fmt.Errorf("loading %s: %w", o.name, err)
	}
	return nil
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
