// SPDX-License-Identifier: Apache-2.0

package spinlock

import (
	"github.com/bpfkit/bpfkit/internal/objfile"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/cilium/ebpf"
	"github.com/cilium/ebpf/asm"
)

// big_lb.bpf.o is a load balancer's datapath of 15,000 instructions and ~250 lock sites
// that the 6.18 kernel verifies in 750,000 processed instructions: the check must finish
// on it, and still find what is wrong deep inside.

func readBigLB(t *testing.T) []byte {
	t.Helper()
	b, err := os.ReadFile(filepath.Join(corpusDir, "big_lb.bpf.o"))
	if err != nil {
		t.Fatal(err)
	}
	return b
}

// sourceLine returns line n of the corpus C file f ("./bpf/testdata/spinlock/x.bpf.c").
func sourceLine(t *testing.T, f string, n int) string {
	t.Helper()
	b, err := os.ReadFile(filepath.Join("..", f))
	if err != nil {
		t.Fatal(err)
	}
	lines := strings.Split(string(b), "\n")
	if n < 1 || n > len(lines) {
		t.Fatalf("%s has no line %d", f, n)
	}
	return lines[n-1]
}

func TestBigProgram(t *testing.T) {
	rep, err := Check(readBigLB(t), &Options{Kernel: v6_18, Name: "big_lb.bpf.o"})
	if err != nil {
		t.Fatal(err)
	}
	if inc := rep.Incomplete(); len(inc) > 0 {
		t.Fatalf("the check did not finish: %v", inc)
	}
	got := map[string]Finding{}
	for _, f := range rep.Findings {
		if f.Severity != SeverityError {
			t.Errorf("unexpected warning: %v", f)
			continue
		}
		if _, dup := got[f.Program]; dup {
			t.Errorf("a second error for %s: %v", f.Program, f)
		}
		got[f.Program] = f
	}
	if f, ok := got["big_lb"]; ok {
		t.Errorf("the program the kernel loads gets an error: %v", f)
	}
	exit, ok := got["big_lb_exit_locked"]
	if !ok || exit.Rule != RuleI6b {
		t.Fatalf("big_lb_exit_locked: %v, want I6b", exit)
	}
	// The finding points at the return that keeps the lock, deep inside.
	if l := sourceLine(t, exit.File, exit.Line); !strings.Contains(l, "return (p->cfg_flags & CFG_STRICT_TCP)") {
		t.Errorf("I6b points at %s:%d %q, not at the return", exit.File, exit.Line, l)
	}
	call, ok := got["big_lb_helper_locked"]
	if !ok || call.Rule != RuleI1 {
		t.Fatalf("big_lb_helper_locked: %v, want I1", call)
	}
	if l := sourceLine(t, call.File, call.Line); !strings.Contains(l, "bpf_ktime_get_ns()") {
		t.Errorf("I1 points at %s:%d %q, not at the helper call", call.File, call.Line, l)
	}
}

// TestBigProgramPlanted plants a return right after lock calls spread over the program
// the kernel loads: each must be reported at the planted instruction, however deep (a
// walk that pruned a path it should have walked would miss some).
func TestBigProgramPlanted(t *testing.T) {
	if testing.Short() {
		t.Skip("checks the 15,000-instruction program a dozen times")
	}
	parsed, err := objfile.Parse(readBigLB(t))
	if err != nil {
		t.Fatal(err)
	}
	spec, renames := parsed.Spec, parsed.Renames
	prog := spec.Programs["big_lb"]
	var sites []int
	for i, ins := range prog.Instructions {
		if ins.IsBuiltinCall() && ins.Constant == fnSpinLock && i+1 < len(prog.Instructions) {
			sites = append(sites, i)
		}
	}
	if len(sites) < 200 {
		t.Fatalf("big_lb has %d lock calls, want its ~250", len(sites))
	}
	const planted = 12
	for k := range planted {
		site := sites[k*(len(sites)-1)/(planted-1)]
		cp := *prog
		cp.Instructions = append(asm.Instructions(nil), prog.Instructions...)
		ret := asm.Return()
		ret.Metadata = cp.Instructions[site+1].Metadata // keep symbols and line info
		cp.Instructions[site+1] = ret
		one := *spec
		one.Programs = map[string]*ebpf.ProgramSpec{"big_lb": &cp}
		c := newChecker(&one, renames, Options{Kernel: v6_18, Name: "big_lb.bpf.o"})
		c.run()
		want := c.progs[0].raw[site+1]
		found := false
		for _, f := range c.report.Findings {
			if f.Rule == RuleI6b && f.Insn == want && f.Severity == SeverityError {
				found = true
			}
			if f.Rule == "" {
				t.Errorf("lock call at insn %d: %v", site, f)
			}
		}
		if !found {
			t.Errorf("a return planted after the lock call at insn %d (raw %d) is not reported: %v", site, want, c.report.Findings)
		}
	}
}
