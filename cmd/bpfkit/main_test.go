package main

import (
	"bytes"
	"encoding/json"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
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
			Path     string `json:"path"`
			Kernel   string `json:"kernel"`
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
	// A clean object has findings [], not null.
	if !strings.Contains(out, `"findings": []`) {
		t.Errorf("clean object's findings are not []:\n%s", out)
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
