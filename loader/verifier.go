// SPDX-License-Identifier: Apache-2.0

//go:build cgo

package loader

import (
	"fmt"
	"io"
	"regexp"
	"strconv"
	"strings"
	"syscall"
)

// VerifierError is returned by Load when the kernel's verifier rejects a program. Its
// message says where (the source file and line, from the log's line info) and why: the
// kernel's explanation of the failing instruction and its last words, e.g.
//
//	loading program "xdp_bad" of xdpbad.bpf.o: verifier rejected it at xdpbad.bpf.c:14: invalid access to packet, off=12 size=1, R2(id=0,off=12,r=12): R2 offset is outside of the packet
//
// Printed with %+v it adds the failing instruction and the whole log. Reach it with
// errors.As; it unwraps to the errno the kernel returned.
//
// Kernels that print a structured summary at the end of the log ("Verification failed:
// …", "Reason: …", "At: …", "Suggestion: …") have it parsed into Message, Reason, the
// location fields and Suggestion.
type VerifierError struct {
	Object  string // the object's name
	Program string // the rejected program
	// Message is the verifier's own words: the log's last meaningful line ("R2 offset is
	// outside of the packet"), or the text after "Verification failed:" in a
	// structured log.
	Message string
	// Explanation is what the kernel printed about the failing instruction before
	// Message, one line or several joined by "; " ("invalid access to packet, off=12
	// size=1, R2(id=0,off=12,r=12)"); empty when Message is all it said.
	Explanation string
	// Reason and Suggestion are the structured log's "Reason:" and "Suggestion:"
	// (empty for a plain log).
	Reason, Suggestion string
	// Insn is the index of the failing instruction, -1 when the log names none;
	// Instruction is its text ("r1 = *(u8 *)(r2 +0)").
	Insn        int
	Instruction string
	// File and Line are the source line of the failing instruction, from the log's
	// line info (the object must be built with -g); Source is that line's text.
	File   string
	Line   int
	Source string
	Log    string        // the complete verifier log
	Rule   string        // the spin-lock rule ID (docs/SPINLOCK.md) the message matches, if any
	Errno  syscall.Errno // what bpf(BPF_PROG_LOAD) returned, usually EACCES or EINVAL
}

func (e *VerifierError) Error() string {
	var b strings.Builder
	fmt.Fprintf(&b, "loading program %q of %s: verifier rejected it", e.Program, e.Object)
	switch {
	case e.File != "" && e.Line > 0:
		fmt.Fprintf(&b, " at %s:%d", e.File, e.Line)
	case e.File != "":
		fmt.Fprintf(&b, " in %s", e.File)
	case e.Insn >= 0:
		fmt.Fprintf(&b, " at instruction %d", e.Insn)
	}
	b.WriteString(": ")
	if e.Explanation != "" {
		b.WriteString(e.Explanation)
		b.WriteString(": ")
	}
	b.WriteString(e.Message)
	if e.Reason != "" {
		b.WriteString(": ")
		b.WriteString(e.Reason)
	}
	if e.Suggestion != "" {
		fmt.Fprintf(&b, " (suggestion: %s)", e.Suggestion)
	}
	if e.Rule != "" {
		fmt.Fprintf(&b, " (spin-lock rule %s)", e.Rule)
	}
	return b.String()
}

// Format prints Error() for %v and %s; %+v adds the failing instruction, its source
// line and the whole verifier log.
func (e *VerifierError) Format(f fmt.State, verb rune) {
	switch {
	case verb == 'v' && f.Flag('+'):
		io.WriteString(f, e.Error())
		if e.Insn >= 0 {
			fmt.Fprintf(f, "\ninstruction %d: %s", e.Insn, e.Instruction)
		}
		if e.Source != "" {
			fmt.Fprintf(f, "\nsource: %s", e.Source)
		}
		io.WriteString(f, "\nverifier log:\n")
		io.WriteString(f, strings.TrimRight(e.Log, "\n"))
	case verb == 'q':
		fmt.Fprintf(f, "%q", e.Error())
	default:
		io.WriteString(f, e.Error())
	}
}

// Unwrap returns the errno, so errors.Is(err, unix.EACCES) works.
func (e *VerifierError) Unwrap() error { return e.Errno }

var (
	// `5: (71) r1 = *(u8 *)(r2 +0)          ; R1=…` (the state comment is optional)
	insnLine = regexp.MustCompile(`^(\d+): \([0-9a-f]{2}\) (.*?)(?:\s+; .*)?$`)
	// other lines of the instruction trace: states ("5: R1=ctx()", "from 4 to 9: …"),
	// source lines ("; x = y; @ file.c:12"), precision tracking at level 2
	traceLine = regexp.MustCompile(`^(?:\d+: |from \d+ to \d+: |; |mark_precise: |\s+(?:last_idx|regs=|parent ))`)
	// `; void *data = (void *)(long)ctx->data; @ xdpbad.bpf.c:9`
	sourceLine = regexp.MustCompile(`^; (.*?)(?: @ (\S+?):(\d+))?$`)
	// in a structured summary's "At:": "insn 5", "xdpbad.bpf.c:14"
	atInsn = regexp.MustCompile(`\binsn (\d+)\b`)
	atFile = regexp.MustCompile(`([\w./-]+\.[A-Za-z]+):(\d+)`)
)

// statsLine reports the lines the kernel appends after its verdict.
func statsLine(l string) bool {
	for _, p := range []string{"processed ", "max_states_per_insn", "verification time", "stack depth", "-- END"} {
		if strings.HasPrefix(l, p) {
			return true
		}
	}
	return l == ""
}

// newVerifierError parses a verifier log into a VerifierError.
func newVerifierError(object, program, log string, errno syscall.Errno) *VerifierError {
	e := &VerifierError{Object: object, Program: program, Log: log, Errno: errno, Insn: -1,
		Rule: ruleForVerifierLog(log)}
	lines := strings.Split(strings.TrimRight(log, "\n"), "\n")
	for i := range lines {
		lines[i] = strings.TrimRight(lines[i], " \t\r")
	}
	end := len(lines)
	for end > 0 && statsLine(strings.TrimSpace(lines[end-1])) {
		end--
	}
	if e.parseStructured(lines[:end]) {
		return e
	}
	// The verdict: the lines after the last line of the instruction trace.
	start := end
	for start > 0 && !traceLine.MatchString(lines[start-1]) {
		start--
	}
	var words []string
	for _, l := range lines[start:end] {
		if l = strings.TrimSpace(l); l != "" {
			words = append(words, l)
		}
	}
	if len(words) > 0 {
		e.Message = words[len(words)-1]
		words = words[:len(words)-1]
		if len(words) > 3 { // a dump rather than an explanation: keep what is closest
			words = words[len(words)-3:]
		}
		e.Explanation = strings.Join(words, "; ")
	}
	e.locate(lines[:start])
	return e
}

// locate finds the failing instruction (the last instruction line of the trace) and the
// source line before it: the verifier prints a line's source when it changes, and again
// after each jump to another path, so the last one printed is the instruction's.
func (e *VerifierError) locate(trace []string) { e.locateInsn(trace, -1) }

// locateInsn is locate for the last line of instruction want (any instruction when want
// is negative).
func (e *VerifierError) locateInsn(trace []string, want int) {
	i := len(trace) - 1
	for ; i >= 0; i-- {
		if m := insnLine.FindStringSubmatch(trace[i]); m != nil {
			n, _ := strconv.Atoi(m[1])
			if want >= 0 && n != want {
				continue
			}
			e.Insn = n
			e.Instruction = m[2]
			break
		}
	}
	if i < 0 {
		if want >= 0 {
			return // the trace does not show that instruction
		}
		i = len(trace)
	}
	for j := i - 1; j >= 0; j-- {
		if m := sourceLine.FindStringSubmatch(trace[j]); m != nil {
			e.Source = strings.TrimSpace(m[1])
			if m[2] != "" {
				e.File = m[2]
				e.Line, _ = strconv.Atoi(m[3])
			}
			return
		}
	}
}

// parseStructured parses the summary newer kernels print at the end of a log:
//
//	Verification failed: invalid access to packet, off=12 size=1
//	Reason: R2 offset is outside of the packet
//	At: insn 5 (xdpbad.bpf.c:14)
//	Suggestion: compare data + 13 against data_end before the read
//
// A field may continue on indented lines. It reports whether the log had one.
func (e *VerifierError) parseStructured(lines []string) bool {
	head := -1
	for i := len(lines) - 1; i >= 0; i-- {
		if strings.HasPrefix(strings.TrimSpace(lines[i]), "Verification failed:") {
			head = i
			break
		}
	}
	if head < 0 {
		return false
	}
	fields := map[string]*string{}
	var at string
	var cur *string
	msg := ""
	fields["Verification failed"] = &msg
	fields["Reason"] = &e.Reason
	fields["At"] = &at
	fields["Suggestion"] = &e.Suggestion
	for _, l := range lines[head:] {
		if k, v, ok := strings.Cut(strings.TrimSpace(l), ":"); ok && !strings.HasPrefix(l, " ") && !strings.HasPrefix(l, "\t") {
			if p, known := fields[k]; known {
				*p, cur = strings.TrimSpace(v), p
				continue
			}
		}
		if cur != nil && (strings.HasPrefix(l, " ") || strings.HasPrefix(l, "\t")) {
			*cur = strings.TrimSpace(*cur + " " + strings.TrimSpace(l))
			continue
		}
		cur = nil
	}
	e.Message = msg
	if m := atInsn.FindStringSubmatch(at); m != nil {
		e.Insn, _ = strconv.Atoi(m[1])
	}
	if m := atFile.FindStringSubmatch(at); m != nil {
		e.File = m[1]
		e.Line, _ = strconv.Atoi(m[2])
	}
	// the instruction trace before the summary still gives the instruction's text and
	// source, and the location when "At:" lacks it
	var trace VerifierError
	trace.Insn = -1
	if e.Insn >= 0 {
		trace.locateInsn(lines[:head], e.Insn) // the instruction At: names, where the trace has it
	} else {
		trace.locate(lines[:head])
	}
	if e.Insn < 0 || e.Insn == trace.Insn {
		if e.Insn < 0 {
			e.Insn = trace.Insn
		}
		e.Instruction = trace.Instruction
		e.Source = trace.Source
		if e.File == "" {
			e.File, e.Line = trace.File, trace.Line
		}
	}
	return true
}
