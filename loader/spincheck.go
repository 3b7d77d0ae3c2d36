// SPDX-License-Identifier: Apache-2.0

//go:build cgo

package loader

import (
	"fmt"

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

// ruleForVerifierLog names the spin-lock rule (docs/SPINLOCK.md) whose kernel words a
// verifier log ends with, if any.
func ruleForVerifierLog(log string) string {
	return spinlock.RuleForVerifierLog(log)
}
