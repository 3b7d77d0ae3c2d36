// SPDX-License-Identifier: Apache-2.0

package spinlock

import (
	"fmt"
	"math/rand/v2"
	"strings"
	"testing"
	"time"

	"github.com/cilium/ebpf/asm"
)

// Generated datapath-shaped programs: stage after stage of a context read, a branch, a
// map lookup, a critical section with branches inside, and a helper call between
// critical sections, like a load balancer's. The generator knows whether it planted a
// bug (a return with the lock held, or a helper call under it), so the walk's answer can
// be checked at any size; and their cost tells how the walk grows with size.

type genBug int

const (
	bugNone genBug = iota
	bugExit        // one stage returns inside its critical section (I6b)
	bugCall        // one stage calls a helper inside its critical section (I1)
)

// genProgram writes a program of n stages. Every nest-th stage nests its critical
// section's branches two deep; bug, if any, is planted in stage at.
func genProgram(r *rand.Rand, n, nest int, bug genBug, at int) asm.Instructions {
	insns := asm.Instructions{asm.Mov.Reg(asm.R6, asm.R1), asm.Mov.Imm(asm.R7, 0)}
	for i := range n {
		skip, inner := fmt.Sprintf("skip%d", i), fmt.Sprintf("inner%d", i)
		m := []string{"m", "m2"}[r.IntN(2)]
		stage := asm.Instructions{
			asm.LoadMem(asm.R9, asm.R6, int16(4*r.IntN(16)), asm.Word),
			asm.JGT.Imm(asm.R9, int32(1+r.IntN(1500)), skip), // at least 0 and 1 pass: the stage is reachable
		}
		stage = append(stage, lookup(m, asm.R8, skip)...)
		stage = append(stage, lockVia(asm.FnSpinLock, asm.R8, 4)...)
		stage = append(stage,
			asm.LoadMem(asm.R2, asm.R8, 0, asm.Word),
			asm.Add.Reg(asm.R2, asm.R9),
			asm.StoreMem(asm.R8, 0, asm.R2, asm.Word),
			asm.JEq.Imm(asm.R9, int32(r.IntN(64)), inner),
			asm.Add.Imm(asm.R7, 1),
		)
		if nest > 0 && i%nest == 0 {
			stage = append(stage,
				asm.JSet.Imm(asm.R2, 1, inner),
				asm.Add.Imm(asm.R7, 2),
				asm.JLT.Imm(asm.R2, 7, inner),
				asm.Add.Imm(asm.R7, 3),
			)
		}
		if i == at {
			switch bug {
			case bugExit:
				// A fresh context field decides it: the path is always feasible.
				stage = append(stage, asm.LoadMem(asm.R3, asm.R6, 60, asm.Word), asm.JEq.Imm(asm.R3, 3, "bug_exit"))
			case bugCall:
				stage = append(stage, asm.FnKtimeGetNs.Call())
			}
		}
		stage = append(stage, lockVia(asm.FnSpinUnlock, asm.R8, 4)...)
		stage[len(stage)-3] = stage[len(stage)-3].WithSymbol(inner)
		if r.IntN(3) == 0 {
			stage = append(stage, asm.FnKtimeGetNs.Call(), asm.Add.Reg(asm.R7, asm.R0))
		}
		stage = append(stage, asm.Mov.Reg(asm.R1, asm.R7).WithSymbol(skip))
		insns = append(insns, stage...)
	}
	insns = append(insns, asm.Mov.Imm(asm.R0, 0), asm.Return())
	if bug == bugExit {
		insns = append(insns, asm.Mov.Imm(asm.R0, 1).WithSymbol("bug_exit"), asm.Return())
	}
	return link(insns)
}

// plantedRules are the error rules each planted bug must produce, and nothing else.
var plantedRules = map[genBug]string{bugNone: "", bugExit: "I6b", bugCall: "I1"}

// plantedErrors lists the rules of a report's error findings, in order, comma-separated.
func plantedErrors(rep *Report) string {
	var errs []string
	for _, f := range rep.Findings {
		if f.Severity == SeverityError {
			errs = append(errs, f.Rule)
		}
	}
	return strings.Join(errs, ",")
}

func checkGenerated(t testing.TB, insns asm.Instructions) (*Report, *walker) {
	c := newChecker(testSpec("tc", map[string]asm.Instructions{"prog": insns}), nil, Options{Kernel: v6_18, Name: "gen.bpf.o"})
	w := newWalker(c, c.progs[0])
	w.run()
	c.mapRules()
	return c.report, w
}

// TestGeneratedPrograms: at every size, a planted bug is found with its rule, a clean
// program gets no error, and the walk finishes within its budget.
func TestGeneratedPrograms(t *testing.T) {
	for _, n := range []int{1, 10, 100, 400} {
		for _, bug := range []genBug{bugNone, bugExit, bugCall} {
			t.Run(fmt.Sprintf("%d stages/bug %d", n, bug), func(t *testing.T) {
				r := rand.New(rand.NewPCG(uint64(n), uint64(bug)))
				insns := genProgram(r, n, 3, bug, n*2/3)
				rep, w := checkGenerated(t, insns)
				if len(w.unfinished) > 0 {
					t.Fatalf("%d instructions: the walk stopped (%d steps, %d compares)", len(insns), w.steps, w.compares)
				}
				if got, want := plantedErrors(rep), plantedRules[bug]; got != want {
					t.Errorf("%d instructions: errors %q, want %q: %v", len(insns), got, want, rep.Findings)
				}
			})
		}
	}
}

// BenchmarkWalk measures the walk on generated programs of growing size: time per
// instruction of the program, and per instruction simulated.
func BenchmarkWalk(b *testing.B) {
	for _, n := range []int{10, 40, 160, 640} {
		r := rand.New(rand.NewPCG(uint64(n), 1))
		insns := genProgram(r, n, 3, bugNone, -1)
		b.Run(fmt.Sprintf("stages=%d/insns=%d", n, len(insns)), func(b *testing.B) {
			b.ReportAllocs()
			var steps int
			start := time.Now()
			for b.Loop() {
				_, w := checkGenerated(b, insns)
				if len(w.unfinished) > 0 {
					b.Fatal("stopped")
				}
				steps = w.steps
			}
			el := time.Since(start).Seconds() / float64(b.N)
			b.ReportMetric(float64(len(insns))/el, "insns/s")
			b.ReportMetric(float64(steps)/el, "steps/s")
			b.ReportMetric(float64(steps), "steps")
		})
	}
}

// FuzzWalkGenerated: for any seed, size and planted bug, the walk finds exactly the
// bug it was given.
func FuzzWalkGenerated(f *testing.F) {
	f.Add(uint64(1), uint8(5), uint8(0), uint8(2))
	f.Add(uint64(2), uint8(40), uint8(1), uint8(30))
	f.Add(uint64(3), uint8(17), uint8(2), uint8(0))
	f.Fuzz(func(t *testing.T, seed uint64, stages, bug, at uint8) {
		n := int(stages%64) + 1
		b := genBug(bug % 3)
		r := rand.New(rand.NewPCG(seed, seed^0x9e3779b97f4a7c15))
		insns := genProgram(r, n, int(seed%4), b, int(at)%n)
		rep, w := checkGenerated(t, insns)
		if len(w.unfinished) > 0 {
			t.Fatalf("the walk stopped on %d instructions", len(insns))
		}
		if got, want := plantedErrors(rep), plantedRules[b]; got != want {
			t.Fatalf("%d stages, bug %d at %d: errors %q, want %q", n, b, int(at)%n, got, want)
		}
	})
}
