// SPDX-License-Identifier: Apache-2.0

//go:build cgo

package loader

import (
	"context"
	"fmt"
	"log/slog"

	"github.com/cilium/ebpf"

	"github.com/bpfkit/bpfkit/spinlock"
)

// preflight runs the spin-lock check before Load (Options.Preflight) on the programs
// that will load, with the program types libbpf resolved or the setters gave: an
// *spinlock.Error or (strict mode) an *spinlock.IncompleteError stops Load before
// anything reaches the kernel; what the check could not analyse is otherwise logged as
// warnings to Options.Logger. The caller holds o.mu for writing.
func (o *Object) preflight() error {
	if o.opts.Preflight.Mode == spinlock.Off {
		return nil
	}
	programs := map[string]ebpf.ProgramType{}
	for _, p := range o.progs {
		if p.autoloadLocked() {
			programs[p.name] = p.Type()
		}
	}
	if err := o.opts.Preflight.Run(o.elf, o.name, programs, o.opts.Logger); err != nil {
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
