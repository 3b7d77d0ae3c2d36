// SPDX-License-Identifier: Apache-2.0

package main

import (
	"bytes"
	"debug/elf"
	"encoding/binary"
	"encoding/json"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"testing"

	"github.com/bpfkit/bpfkit/internal/gen/testobj"
	"github.com/cilium/ebpf/btf"
)

var corpus = filepath.Join("..", "..", "bpf", "testdata", "spinlock")

func runArgs(args ...string) (int, string, string) {
	var out, errb bytes.Buffer
	code := run(args, &out, &errb)
	return code, out.String(), errb.String()
}

func TestCheckExitStatus(t *testing.T) {
	bad := filepath.Join(corpus, "p_progtype.bpf.o")
	good := filepath.Join(corpus, "m_storage.bpf.o")
	notELF := filepath.Join(t.TempDir(), "x.o")
	if err := os.WriteFile(notELF, []byte("not an object"), 0o644); err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		name string
		args []string
		code int
		out  string // must appear in stdout
		err  string // must appear in stderr
	}{
		{"no command", nil, 2, "", "usage"},
		{"unknown command", []string{"frob"}, 2, "", `unknown command "frob"`},
		{"no objects", []string{"check"}, 2, "", "usage: bpfkit check"},
		{"bad kernel", []string{"check", "--kernel", "six", good}, 2, "", "parse kernel version"},
		{"bad format", []string{"check", "--format", "xml", good}, 2, "", "unknown format"},
		{"missing file", []string{"check", "--kernel", "6.18", "/nonexistent.o"}, 2, "", "nonexistent.o"},
		{"not an object", []string{"check", "--kernel", "6.18", notELF}, 2, "", "unreadable BPF object"},
		{"clean object", []string{"check", "--kernel", "6.18", good}, 0, "0 error(s)", ""},
		{"errors", []string{"check", "--kernel", "6.18", bad}, 1, `error[P2] program "tp_lock" (tracepoint) uses map`, ""},
		{"errors and unreadable", []string{"check", "--kernel", "6.18", bad, notELF}, 2, "error[P2]", "unreadable"},
		{"version keyed", []string{"check", "--kernel", "6.1", filepath.Join(corpus, "p_progtype.bpf.o")}, 1, "error[P3]", ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			code, out, errs := runArgs(tt.args...)
			if code != tt.code {
				t.Errorf("exit %d, want %d\nstdout: %s\nstderr: %s", code, tt.code, out, errs)
			}
			if !strings.Contains(out, tt.out) {
				t.Errorf("stdout lacks %q:\n%s", tt.out, out)
			}
			if !strings.Contains(errs, tt.err) {
				t.Errorf("stderr lacks %q:\n%s", tt.err, errs)
			}
		})
	}
}

func TestCheckTextLikeACompiler(t *testing.T) {
	_, out, _ := runArgs("check", "--kernel", "6.18", filepath.Join(corpus, "p_progtype.bpf.o"))
	first := strings.SplitN(out, "\n", 2)[0]
	// "./bpf/testdata/spinlock/p_progtype.bpf.c:NN: error[P1] program …"
	if !regexp.MustCompile(`^\S+\.bpf\.c:\d+: (error|warning)\[[A-Za-z0-9]+\] program "`).MatchString(first) {
		t.Errorf("first line is not file:line: severity[rule] message: %q", first)
	}
	if !strings.Contains(out, "    fix: ") {
		t.Errorf("no fix lines:\n%s", out)
	}
}

func TestCheckJSON(t *testing.T) {
	code, out, errs := runArgs("check", "--kernel", "6.18", "--format", "json",
		filepath.Join(corpus, "p_progtype.bpf.o"), filepath.Join(corpus, "m_storage.bpf.o"))
	if code != 1 {
		t.Fatalf("exit %d: %s", code, errs)
	}
	// Exactly the documented shape, nothing more.
	var doc struct {
		Objects []struct {
			Path     string   `json:"path"`
			Kernel   string   `json:"kernel"`
			Notes    []string `json:"notes"`
			Findings []struct {
				Rule     string `json:"rule"`
				Severity string `json:"severity"`
				Program  string `json:"program"`
				Section  string `json:"section"`
				Map      string `json:"map"`
				Insn     int    `json:"insn"`
				File     string `json:"file"`
				Line     int    `json:"line"`
				Message  string `json:"message"`
				Fix      string `json:"fix"`
			} `json:"findings"`
		} `json:"objects"`
	}
	dec := json.NewDecoder(strings.NewReader(out))
	dec.DisallowUnknownFields()
	if err := dec.Decode(&doc); err != nil {
		t.Fatalf("decode: %v\n%s", err, out)
	}
	if len(doc.Objects) != 2 || doc.Objects[0].Kernel != "6.18" {
		t.Fatalf("objects: %+v", doc.Objects)
	}
	found := false
	for _, f := range doc.Objects[0].Findings {
		if f.Rule == "P2" && f.Program == "tp_lock" && f.Severity == "error" && f.Line > 0 && f.Map != "" {
			found = true
		}
	}
	if !found {
		t.Errorf("no P2 error for tp_lock: %+v", doc.Objects[0].Findings)
	}
	// A clean object has findings [] and notes [], not null.
	if !strings.Contains(out, `"findings": []`) || !strings.Contains(out, `"notes": []`) {
		t.Errorf("clean object's findings or notes are not []:\n%s", out)
	}
}

// customSection writes an object whose program's section names no type libbpf knows,
// with a bpf_spin_lock in its BTF (so the check reads it): the check notes it.
func customSection(t *testing.T) string {
	t.Helper()
	u32 := &btf.Int{Name: "unsigned int", Size: 4}
	lock := &btf.Struct{Name: "bpf_spin_lock", Size: 4, Members: []btf.Member{{Name: "val", Type: u32}}}
	b, err := testobj.Object{Types: []btf.Type{lock}, Programs: []testobj.Program{{Name: "hook", Section: "tc_packet_hook9"}}}.Build()
	if err != nil {
		t.Fatal(err)
	}
	path := filepath.Join(t.TempDir(), "custom.bpf.o")
	if err := os.WriteFile(path, b, 0o644); err != nil {
		t.Fatal(err)
	}
	return path
}

// TestCheckNotesAndIncomplete: notes reach the JSON; a warning without a rule (here an
// unchecked kernel version) fails the check only under --strict.
func TestCheckNotesAndIncomplete(t *testing.T) {
	custom := customSection(t)
	code, out, errs := runArgs("check", "--kernel", "6.18", "--format", "json", custom)
	if code != 0 {
		t.Fatalf("exit %d: %s", code, errs)
	}
	var doc struct {
		Objects []struct {
			Notes []string `json:"notes"`
		} `json:"objects"`
	}
	if err := json.Unmarshal([]byte(out), &doc); err != nil {
		t.Fatal(err)
	}
	if len(doc.Objects) != 1 || len(doc.Objects[0].Notes) != 1 || !strings.Contains(doc.Objects[0].Notes[0], `section "tc_packet_hook9" names no program type libbpf knows`) {
		t.Errorf("notes: %+v\n%s", doc.Objects, out)
	}

	good := filepath.Join(corpus, "m_storage.bpf.o")
	code, out, _ = runArgs("check", "--kernel", "6.30", good)
	if code != 0 || !strings.Contains(out, "warning: kernel 6.30 may be judged differently: the rules were checked against kernels 6.1 to 6.18") {
		t.Errorf("unchecked kernel: exit %d\n%s", code, out)
	}
	if code, out, _ = runArgs("check", "--kernel", "6.30", "--strict", good); code != 1 {
		t.Errorf("--strict on an unchecked kernel: exit %d, want 1\n%s", code, out)
	}
	if code, out, _ = runArgs("check", "--kernel", "6.18", "--strict", good); code != 0 {
		t.Errorf("--strict on a clean object: exit %d, want 0\n%s", code, out)
	}
}

// TestCheckHostileInput: a device is refused, not read until memory runs out, and an
// object whose BTF header is corrupt is unreadable (libbpf refuses it too), not clean.
func TestCheckHostileInput(t *testing.T) {
	code, _, errs := runArgs("check", "--kernel", "6.18", "/dev/zero")
	if code != 2 || !strings.Contains(errs, "/dev/zero: not a regular file") {
		t.Errorf("/dev/zero: exit %d, stderr %q", code, errs)
	}
	obj, err := os.ReadFile(filepath.Join("..", "..", "bpf", "minimal.bpf.o"))
	if err != nil {
		t.Fatal(err)
	}
	f, err := elf.NewFile(bytes.NewReader(obj))
	if err != nil {
		t.Fatal(err)
	}
	sec := f.Section(".BTF")
	bad := bytes.Clone(obj)
	// The header's type_len now runs past the end of the section.
	binary.LittleEndian.PutUint32(bad[sec.Offset+12:], uint32(sec.Size)*4)
	path := filepath.Join(t.TempDir(), "badbtf.bpf.o")
	if err := os.WriteFile(path, bad, 0o644); err != nil {
		t.Fatal(err)
	}
	code, _, errs = runArgs("check", "--kernel", "6.18", path)
	if code != 2 || !strings.Contains(errs, "section .BTF: malformed header") {
		t.Errorf("corrupt BTF header: exit %d, stderr %q", code, errs)
	}
}

// TestBinary builds the command and runs it as a user would.
func TestBinary(t *testing.T) {
	if testing.Short() {
		t.Skip("builds a binary")
	}
	bin := filepath.Join(t.TempDir(), "bpfkit")
	if out, err := exec.Command("go", "build", "-o", bin, ".").CombinedOutput(); err != nil {
		t.Fatalf("go build: %v\n%s", err, out)
	}
	cmd := exec.Command(bin, "check", "--kernel", "6.18", filepath.Join(corpus, "i_insn.bpf.o"))
	out, err := cmd.Output()
	if ee, ok := err.(*exec.ExitError); !ok || ee.ExitCode() != 1 {
		t.Fatalf("exit: %v\n%s", err, out)
	}
	if !strings.Contains(string(out), "error[I1]") {
		t.Errorf("output lacks error[I1]:\n%s", out)
	}
}
