// SPDX-License-Identifier: Apache-2.0

package spinlock

import (
	"bytes"
	"encoding/json"
	"errors"
	"github.com/cilium/ebpf"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
)

func readCorpusObject(t testing.TB, name string) []byte {
	t.Helper()
	b, err := os.ReadFile(filepath.Join(corpusDir, name))
	if err != nil {
		t.Fatalf("corpus object %s (committed; run `make bpf`): %v", name, err)
	}
	return b
}

// errorRules returns, per program ("" for map-level findings), the rules of the error
// findings and, suffixed with "?", of the warnings.
func errorRules(rep *Report) map[string][]string {
	out := map[string][]string{}
	for _, f := range rep.Findings {
		r := f.Rule
		if f.Severity == SeverityWarning {
			r += "?"
		}
		out[f.Program] = append(out[f.Program], r)
	}
	return out
}

// TestVersionKeying checks that the same objects give, under 6.1, 6.6, 6.12 and 6.18,
// the findings docs/SPINLOCK.md says those kernels would.
func TestVersionKeying(t *testing.T) {
	versions := []Version{v6_1, v6_6, v6_12, v6_18}
	tests := []struct {
		object, program string
		want            [4]string // comma-separated rules per version; "?" marks a warning
		why             string
	}{
		{"i_insn.bpf.o", "exit_locked", [4]string{"I6", "I6", "I6", "I6b"}, "I6 to 6.12, I6b from 6.13"},
		{"i_insn.bpf.o", "unlock_one_branch", [4]string{"I6", "I6", "I6", "I6b"}, "every path must unlock"},
		{"i_insn.bpf.o", "static_call_locked", [4]string{"I1", "I1", "", ""}, "I1a: static calls allowed from 6.9"},
		{"i_insn.bpf.o", "global_call_locked", [4]string{"I1", "I1", "I1a", "I1a"}, "global calls never allowed; I1a words from 6.9 (6.1 says I1's, seen in qemu)"},
		{"i_insn.bpf.o", "subprog_lock_caller_unlock", [4]string{"I6", "I6", "", ""}, "subprogram exit with the lock allowed from 6.9"},
		{"i_insn.bpf.o", "iter_num_locked", [4]string{"I1", "I1", "I1", ""}, "I1b: bpf_iter_num_* from 6.14"},
		{"i_insn.bpf.o", "lock_ok", [4]string{"", "", "", ""}, "correct on every kernel"},
		{"p_progtype.bpf.o", "syscall_lock", [4]string{"P3", "", "", ""}, "P3: sleepable programs 6.1–6.5"},
		{"p_progtype.bpf.o", "uprobe_s_lock", [4]string{"P2", "P2", "P2", "P2"}, "tracing first, whatever the sleepability"},
		{"p_progtype.bpf.o", "tp_btf_lock", [4]string{"", "", "", ""}, "TRACING may lock"},
		{"p_special.bpf.o", "tp_wq", [4]string{"", "", "P5", "P5"}, "P5 from 6.10"},
		{"p_special.bpf.o", "tp_list", [4]string{"P2", "P6", "P6", "P6"}, "P6 from 6.3, reported before P2"},
		{"p_special.bpf.o", "tp_timer", [4]string{"P4", "P4", "P4", "P4"}, "P4 6.1–6.19"},
		{"m_maps.bpf.o", "nested_lock", [4]string{"M4", "M4", "", ""}, "M4 to 6.9, M4b from 6.10"},
		{"m_two_locks.bpf.o", "bystander_lock", [4]string{"", "M5", "M5", "M5"}, "6.2+ refuses the object's BTF"},
		{"g_global.bpf.o", "g2_global_lock", [4]string{"G1", "", "", ""}, "G1 on 6.1, G2 from 6.2"},
	}
	reports := map[[2]string]*Report{}
	for _, tt := range tests {
		for i, v := range versions {
			key := [2]string{tt.object, v.String()}
			rep := reports[key]
			if rep == nil {
				var err error
				rep, err = Check(readCorpusObject(t, tt.object), &Options{Kernel: v, Name: tt.object})
				if err != nil {
					t.Fatalf("Check(%s, %s): %v", tt.object, v, err)
				}
				reports[key] = rep
			}
			got := strings.Join(errorRules(rep)[tt.program], ",")
			if got != tt.want[i] {
				t.Errorf("%s/%s under %s: findings %q, want %q (%s)", tt.object, tt.program, v, got, tt.want[i], tt.why)
			}
		}
	}
}

func TestReportErrAndErrorsAs(t *testing.T) {
	rep, err := Check(readCorpusObject(t, "p_progtype.bpf.o"), &Options{Kernel: v6_18, Name: "p_progtype.bpf.o"})
	if err != nil {
		t.Fatal(err)
	}
	err = rep.Err()
	if err == nil {
		t.Fatal("Err() is nil for an object with refused programs")
	}
	wrapped := errors.Join(errors.New("loading p_progtype.bpf.o"), err)
	var se *Error
	if !errors.As(wrapped, &se) {
		t.Fatalf("errors.As(%T) found no *Error", wrapped)
	}
	if se.Object != "p_progtype.bpf.o" || len(se.Findings) == 0 {
		t.Fatalf("Error = %+v", se)
	}
	for _, f := range se.Findings {
		if f.Severity != SeverityError {
			t.Errorf("Error holds a warning: %v", f)
		}
	}
	msg := se.Error()
	// Like a compiler: "file.bpf.c:LINE: error[P2] program "tp_lock" (tracepoint) uses map …".
	if !strings.Contains(msg, `error[P2] program "tp_lock" (tracepoint) uses map`) || !strings.Contains(msg, "p_progtype.bpf.c:") {
		t.Errorf("Error() does not read like a compiler:\n%s", msg)
	}
	if strings.Count(msg, "\n") != len(se.Findings) {
		t.Errorf("Error() has %d lines for %d findings", strings.Count(msg, "\n")+1, len(se.Findings))
	}
	for _, f := range se.Findings {
		if f.File == "" || f.Line == 0 || f.Section == "" || f.Program == "" || f.Message == "" || f.Fix == "" {
			t.Errorf("finding lacks a field: %+v", f)
		}
	}

	clean, err := Check(readCorpusObject(t, "m_storage.bpf.o"), &Options{Kernel: v6_18})
	if err != nil {
		t.Fatal(err)
	}
	if err := clean.Err(); err != nil {
		t.Errorf("Err() = %v for a correct object", err)
	}
}

func TestProgramTypesOverride(t *testing.T) {
	elf := readCorpusObject(t, "p_progtype.bpf.o")
	for _, tc := range []struct {
		typ  ebpf.ProgramType
		want bool
	}{{ebpf.TracePoint, true}, {ebpf.XDP, false}, {ebpf.Tracing, false}, {ebpf.SocketFilter, true}} {
		rep, err := Check(elf, &Options{Kernel: v6_18, ProgramTypes: map[string]ebpf.ProgramType{"tp_lock": tc.typ}})
		if err != nil {
			t.Fatal(err)
		}
		got := len(errorRules(rep)["tp_lock"]) > 0
		if got != tc.want {
			t.Errorf("tp_lock as %s: refused=%v, want %v (%v)", tc.typ, got, tc.want, errorRules(rep)["tp_lock"])
		}
	}
}

func TestNamedBSSSections(t *testing.T) {
	rep, err := Check(readCorpusObject(t, "g_global.bpf.o"), &Options{Kernel: v6_18})
	if err != nil {
		t.Fatalf("an object with SEC(\".bss.A\") is unreadable: %v", err)
	}
	var maps []string
	for _, f := range rep.Findings {
		maps = append(maps, f.Map)
	}
	if !slices.Contains(maps, ".bss.A") && !slices.Contains(maps, ".bss.B") {
		t.Errorf("findings do not name the .bss.A/.bss.B sections: %v", maps)
	}
}

func TestUnreadable(t *testing.T) {
	for name, b := range map[string][]byte{
		"empty":     nil,
		"text":      []byte("not an ELF object"),
		"truncated": readCorpusObject(t, "i_insn.bpf.o")[:200],
	} {
		_, err := Check(b, &Options{Kernel: v6_18, Name: name})
		if !errors.Is(err, ErrUnreadable) {
			t.Errorf("%s: err = %v, want ErrUnreadable", name, err)
		}
		if err != nil && !strings.Contains(err.Error(), name) {
			t.Errorf("%s: error %q does not name the object", name, err)
		}
	}
	if _, err := CheckReader(bytes.NewReader(readCorpusObject(t, "i_insn.bpf.o")), &Options{Kernel: v6_18}); err != nil {
		t.Errorf("CheckReader: %v", err)
	}
}

func TestParseVersion(t *testing.T) {
	for in, want := range map[string]Version{
		"6.18": {6, 18}, "v6.1": {6, 1}, "6.18.3": {6, 18}, "6.18.44-fc-v669": {6, 18}, "6.12.0-rc1": {6, 12}, " 7.0 ": {7, 0},
	} {
		got, err := ParseVersion(in)
		if err != nil || got != want {
			t.Errorf("ParseVersion(%q) = %v, %v; want %v", in, got, err, want)
		}
	}
	for _, in := range []string{"", "6", "six.one", "6.x", "-1.2", ".5"} {
		if v, err := ParseVersion(in); err == nil {
			t.Errorf("ParseVersion(%q) = %v, want an error", in, v)
		}
	}
	if !(Version{6, 13}).AtLeast(6, 13) || (Version{6, 12}).AtLeast(6, 13) || !(Version{7, 0}).AtLeast(6, 19) {
		t.Error("AtLeast is wrong")
	}
	if v, err := RunningKernel(); err == nil && v.IsZero() {
		t.Error("RunningKernel returned the zero version without an error")
	}
}

func TestFindingJSON(t *testing.T) {
	f := Finding{Rule: "P2", Severity: SeverityError, Program: "handle_tp", Insn: 12, Line: 33}
	b, err := json.Marshal(f)
	if err != nil {
		t.Fatal(err)
	}
	want := `{"rule":"P2","severity":"error","program":"handle_tp","section":"","map":"","insn":12,"file":"","line":33,"message":"","fix":""}`
	if string(b) != want {
		t.Errorf("JSON %s\nwant %s", b, want)
	}
	var back Finding
	if err := json.Unmarshal([]byte(strings.Replace(want, `"error"`, `"warning"`, 1)), &back); err != nil || back.Severity != SeverityWarning {
		t.Errorf("round trip: %v, %v", back, err)
	}
	if SeverityWarning.String() != "warning" || SeverityError.String() != "error" {
		t.Error("Severity.String")
	}
}

func TestParseSection(t *testing.T) {
	for sec, want := range map[string]sectionInfo{
		"tp/syscalls/sys_enter_write": {typ: ebpf.TracePoint, kind: "tp"},
		"?tc":                         {typ: ebpf.SchedCLS, kind: "tc"},
		"socket":                      {typ: ebpf.SocketFilter, kind: "socket"},
		"uprobe.s/bin:f":              {typ: ebpf.Kprobe, sleepable: true, kind: "uprobe"},
		"fentry.s/do_sys_open":        {typ: ebpf.Tracing, sleepable: true, kind: "fentry"},
		"syscall":                     {typ: ebpf.Syscall, sleepable: true, kind: "syscall"},
		"raw_tp.w/sched_switch":       {typ: ebpf.RawTracepointWritable, kind: "raw_tp.w"},
		"cgroup/skb":                  {typ: ebpf.CGroupSKB, kind: "cgroup/skb"},
		"cgroup/connect4":             {typ: ebpf.CGroupSockAddr, kind: "cgroup/connect4"},
		"xdp.frags/devmap":            {typ: ebpf.XDP, kind: "xdp.frags/devmap"},
		"freplace/f":                  {typ: ebpf.Extension, kind: "freplace"},
		"perf_event":                  {typ: ebpf.PerfEvent, kind: "perf_event"},
		".text":                       {typ: ebpf.UnspecifiedProgram, kind: ".text"},
	} {
		if got := parseSection(sec); got != want {
			t.Errorf("parseSection(%q) = %+v, want %+v", sec, got, want)
		}
	}
}

func TestRuleForVerifierLog(t *testing.T) {
	for log, want := range map[string]string{
		"0: (b7) r1 = 0\n...\ntracing progs cannot use bpf_spin_lock yet\nprocessed 0 insns":         "P2",
		"12: (85) call bpf_get_prandom_u32#7\nfunction calls are not allowed while holding a lock\n": "I1",
		"global function calls are not allowed while holding a lock,\nuse static function instead\n": "I1a",
		"BPF_EXIT instruction in main prog cannot be used inside bpf_spin_lock-ed region":            "I6b",
		"bpf_spin_unlock is missing":                                       "I6",
		"map 'percpu_array' has to have BTF in order to use bpf_spin_lock": "M1",
		"R1 type=scalar expected=fp":                                       "",
		"":                                                                 "",
	} {
		if got := RuleForVerifierLog(log); got != want {
			t.Errorf("RuleForVerifierLog(%q) = %q, want %q", log, got, want)
		}
	}
	if got := rulesForVerifierLog("map 'x' has to have BTF in order to use bpf_spin_lock"); !slices.Contains(got, "M2") {
		t.Errorf("rulesForVerifierLog for M1's words = %v, want M2 among them", got)
	}
}
