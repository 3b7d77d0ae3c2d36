// SPDX-License-Identifier: Apache-2.0

package spinlock

import (
	"fmt"
	"strings"
)

// Severity says whether a finding means the kernel will refuse the object (Error) or
// may (Warning: the check could not decide, or the rule concerns another kernel).
type Severity int

// Severities.
const (
	SeverityError Severity = iota
	SeverityWarning
)

// String returns "error" or "warning".
func (s Severity) String() string {
	if s == SeverityWarning {
		return "warning"
	}
	return "error"
}

// MarshalText encodes s as "error" or "warning".
func (s Severity) MarshalText() ([]byte, error) { return []byte(s.String()), nil }

// UnmarshalText decodes "error" or "warning".
func (s *Severity) UnmarshalText(b []byte) error {
	switch string(b) {
	case "error":
		*s = SeverityError
	case "warning":
		*s = SeverityWarning
	default:
		return fmt.Errorf("unknown severity %q", b)
	}
	return nil
}

// Finding is one broken rule. Fields that do not apply are empty or 0: a finding about a
// map's definition has no Program, and objects built without -g have no File and Line.
type Finding struct {
	Rule     string   `json:"rule"`     // ID from docs/SPINLOCK.md, such as "P2"; "" for a warning that the analysis is incomplete
	Severity Severity `json:"severity"` // error or warning
	Program  string   `json:"program"`  // program (function) name
	Section  string   `json:"section"`  // the program's ELF section, or the map's
	Map      string   `json:"map"`      // map or global-data section involved
	Insn     int      `json:"insn"`     // raw instruction index in the program as libbpf loads it (ld_imm64 counts 2)
	File     string   `json:"file"`     // source file, from BTF line info
	Line     int      `json:"line"`     // source line, from BTF line info
	Message  string   `json:"message"`  // what is wrong, with the kernel's own words for the version
	Fix      string   `json:"fix"`      // one sentence on how to fix it
}

// String formats f like a compiler diagnostic:
// `file.bpf.c:33: error[P2] program "handle_tp" (tracepoint) uses map "counters" …`.
// Without line info the location is the program or map.
func (f Finding) String() string {
	var b strings.Builder
	switch {
	case f.File != "" && f.Line > 0:
		fmt.Fprintf(&b, "%s:%d: ", f.File, f.Line)
	case f.File != "":
		fmt.Fprintf(&b, "%s: ", f.File)
	}
	if f.Rule == "" {
		fmt.Fprintf(&b, "%s: %s", f.Severity, f.Message)
	} else {
		fmt.Fprintf(&b, "%s[%s] %s", f.Severity, f.Rule, f.Message)
	}
	return b.String()
}

// Report is the result of a check: the findings for one object and one kernel version.
type Report struct {
	Object   string    `json:"object"`   // object name used in messages (Options.Name)
	Kernel   Version   `json:"kernel"`   // the kernel version the rules were applied for
	Findings []Finding `json:"findings"` // in program order, then by instruction
	// Notes says where the analysis was incomplete (a step budget reached, a program it
	// could not read); an empty Notes means every path was walked.
	Notes []string `json:"notes,omitempty"`
}

// Incomplete returns the warnings without a rule: where the check could not analyse
// (an object it cannot read, a program past its budget, a kernel version it was not
// checked against). A strict caller treats them as errors.
func (r *Report) Incomplete() []Finding {
	if r == nil {
		return nil
	}
	var out []Finding
	for _, f := range r.Findings {
		if f.Rule == "" {
			out = append(out, f)
		}
	}
	return out
}

// Errors returns the error-severity findings.
func (r *Report) Errors() []Finding {
	if r == nil {
		return nil
	}
	var out []Finding
	for _, f := range r.Findings {
		if f.Severity == SeverityError {
			out = append(out, f)
		}
	}
	return out
}

// Err returns an *Error holding the error-severity findings, or nil when there are none.
func (r *Report) Err() error {
	errs := r.Errors()
	if len(errs) == 0 {
		return nil
	}
	return &Error{Object: r.Object, Kernel: r.Kernel, Findings: errs}
}

// Error is returned by Report.Err (and by loader.Load) when the kernel would refuse the
// object. Reach it with errors.As.
type Error struct {
	Object   string
	Kernel   Version // the kernel version the rules were applied for
	Findings []Finding
}

// Error lists the findings one per line, like a compiler.
func (e *Error) Error() string {
	var b strings.Builder
	name := e.Object
	if name == "" {
		name = "object"
	}
	fmt.Fprintf(&b, "spin-lock check of %s: the %s kernel would refuse it (%d error(s))", name, kernelName(e.Kernel), len(e.Findings))
	for _, f := range e.Findings {
		b.WriteString("\n")
		b.WriteString(f.String())
	}
	return b.String()
}

func kernelName(v Version) string {
	if v.IsZero() {
		return "target"
	}
	return v.String()
}
