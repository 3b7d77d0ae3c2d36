// SPDX-License-Identifier: Apache-2.0

package loader

import (
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
)

// TestParseVerifierLog parses recorded and modelled verifier logs (testdata/verifier,
// see its README) into VerifierError's fields.
func TestParseVerifierLog(t *testing.T) {
	tests := []struct {
		file                 string
		message, explanation string
		reason, suggestion   string
		insn                 int
		instruction, source  string
		srcFile              string
		line                 int
		rule                 string
		errorHas             []string
	}{
		{file: "xdpbad.log", message: "R2 offset is outside of the packet",
			explanation: "invalid access to packet, off=12 size=1, R2(id=0,off=12,r=12)",
			insn:        5, instruction: "r1 = *(u8 *)(r2 +0)",
			source:  "if (*(__u8 *)(data + 12) == 0) /* byte 12 is past the 12 checked */",
			srcFile: "xdpbad.bpf.c", line: 17,
			errorHas: []string{"at xdpbad.bpf.c:17: invalid access to packet, off=12 size=1, R2(id=0,off=12,r=12): R2 offset is outside of the packet"}},
		{file: "xdpbad-level2.log", message: "R2 offset is outside of the packet",
			explanation: "invalid access to packet, off=12 size=1, R2(id=0,off=12,r=12)",
			insn:        5, instruction: "r1 = *(u8 *)(r2 +0)",
			source:  "if (*(__u8 *)(data + 12) == 0) /* byte 12 is past the 12 checked */",
			srcFile: "xdpbad.bpf.c", line: 17},
		{file: "nullderef.log", message: "R0 invalid mem access 'map_value_or_null'",
			insn: 7, instruction: "r1 = *(u64 *)(r0 +0)",
			source:  "return *v ? XDP_PASS : XDP_DROP; /* no NULL check: rejected */",
			srcFile: "verifier.bpf.c", line: 29,
			errorHas: []string{"at verifier.bpf.c:29: R0 invalid mem access 'map_value_or_null'"}},
		{file: "tplock.log", message: "tracing progs cannot use bpf_spin_lock yet", insn: -1, rule: "P2",
			errorHas: []string{"verifier rejected it: tracing progs cannot use bpf_spin_lock yet (spin-lock rule P2)"}},
		{file: "unreleased.log", message: "Unreleased reference id=2 alloc_insn=10",
			insn: 12, instruction: "exit", source: "return 0;", srcFile: "leak.bpf.c", line: 22},
		{file: "old-nolinetag.log", message: "R2 offset is outside of the packet",
			explanation: "invalid access to packet, off=12 size=1, R2(id=0,off=12,r=12)",
			insn:        5, instruction: "r1 = *(u8 *)(r2 +0)", source: "if (*(__u8 *)(data + 12) == 0)",
			errorHas: []string{"at instruction 5: invalid access"}},
		{file: "nobtf.log", message: "R2 offset is outside of the packet",
			explanation: "invalid access to packet, off=12 size=1, R2(id=0,off=12,r=12)",
			insn:        5, instruction: "r1 = *(u8 *)(r2 +0)",
			errorHas: []string{"verifier rejected it at instruction 5: invalid access"}},
		{file: "structured.log", message: "invalid access to packet, off=12 size=1",
			reason:     "R2 points 12 bytes into the packet, and the program proved only 12 bytes readable (data + 12 <= data_end): a 1-byte read there needs 13",
			suggestion: "compare data + 13 with data_end before the read",
			insn:       5, instruction: "r1 = *(u8 *)(r2 +0)",
			source:  "if (*(__u8 *)(data + 12) == 0) /* byte 12 is past the 12 checked */",
			srcFile: "xdpbad.bpf.c", line: 17,
			errorHas: []string{"at xdpbad.bpf.c:17: invalid access to packet, off=12 size=1: R2 points", "(suggestion: compare data + 13 with data_end before the read)"}},
		// At: names an instruction the trace shows earlier: its text and source come
		// from the trace, its place from At:
		{file: "structured-at.log", message: "invalid access to packet, off=12 size=1",
			reason:     "R2 points 12 bytes into the packet, and the program proved only 12 bytes readable (data + 12 <= data_end): a 1-byte read there needs 13",
			suggestion: "compare data + 13 with data_end before the read",
			insn:       3, instruction: "r1 = *(u32 *)(r1 +4)",
			source:  "void *data_end = (void *)(long)ctx->data_end;",
			srcFile: "xdpbad.bpf.c", line: 13,
			errorHas: []string{"at xdpbad.bpf.c:13: invalid access to packet"}},
		// At: names an instruction the trace never shows: At: alone places it
		{file: "structured-at-untraced.log", message: "invalid access to packet, off=12 size=1",
			reason:     "R2 points 12 bytes into the packet, and the program proved only 12 bytes readable (data + 12 <= data_end): a 1-byte read there needs 13",
			suggestion: "compare data + 13 with data_end before the read",
			insn:       42, srcFile: "xdpbad.bpf.c", line: 30,
			errorHas: []string{"at xdpbad.bpf.c:30: invalid access to packet"}},
		{file: "structured-noat.log", message: "R0 invalid mem access 'map_value_or_null'",
			reason:     "bpf_map_lookup_elem may return NULL, and R0 is dereferenced without a check",
			suggestion: "test the pointer against NULL before the read",
			insn:       7, instruction: "r1 = *(u64 *)(r0 +0)",
			source:  "return *v ? XDP_PASS : XDP_DROP; /* no NULL check: rejected */",
			srcFile: "verifier.bpf.c", line: 29},
	}
	for _, tt := range tests {
		b, err := os.ReadFile(filepath.Join("testdata", "verifier", tt.file))
		if err != nil {
			t.Fatal(err)
		}
		e := newVerifierError("x.bpf.o", "prog", string(b), syscall.EACCES)
		got := []any{e.Message, e.Explanation, e.Reason, e.Suggestion, e.Insn, e.Instruction, e.Source, e.File, e.Line, e.Rule}
		want := []any{tt.message, tt.explanation, tt.reason, tt.suggestion, tt.insn, tt.instruction, tt.source, tt.srcFile, tt.line, tt.rule}
		names := []string{"Message", "Explanation", "Reason", "Suggestion", "Insn", "Instruction", "Source", "File", "Line", "Rule"}
		for i := range got {
			if got[i] != want[i] {
				t.Errorf("%s: %s = %q, want %q", tt.file, names[i], got[i], want[i])
			}
		}
		for _, w := range tt.errorHas {
			if !strings.Contains(e.Error(), w) {
				t.Errorf("%s: Error() = %q, want it to contain %q", tt.file, e.Error(), w)
			}
		}
		// %+v: the message, the instruction and the whole log; %v: the message only
		plus := fmt.Sprintf("%+v", e)
		if !strings.HasPrefix(plus, e.Error()) || !strings.Contains(plus, strings.TrimRight(string(b), "\n")) {
			t.Errorf("%s: %%+v lacks the message or the log:\n%s", tt.file, plus)
		}
		if tt.insn >= 0 && !strings.Contains(plus, fmt.Sprintf("instruction %d: %s", tt.insn, tt.instruction)) {
			t.Errorf("%s: %%+v lacks the instruction:\n%s", tt.file, plus)
		}
		if fmt.Sprintf("%v", e) != e.Error() || fmt.Sprint(e) != e.Error() {
			t.Errorf("%s: %%v is not Error()", tt.file)
		}
	}
}

// FuzzParseVerifierLog: any log parses without a panic into a message that is one of
// its lines (or empty for a log of nothing but statistics).
func FuzzParseVerifierLog(f *testing.F) {
	files, _ := filepath.Glob(filepath.Join("testdata", "verifier", "*.log"))
	for _, name := range files {
		b, err := os.ReadFile(name)
		if err != nil {
			f.Fatal(err)
		}
		f.Add(string(b))
	}
	f.Fuzz(func(t *testing.T, log string) {
		e := newVerifierError("x.bpf.o", "prog", log, syscall.EACCES)
		_ = e.Error()
		_ = fmt.Sprintf("%+v", e)
		if e.Message != "" && !strings.Contains(log, e.Message) && !strings.Contains(log, "Verification failed:") {
			t.Fatalf("Message %q is not in the log", e.Message)
		}
	})
}
