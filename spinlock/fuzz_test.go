// SPDX-License-Identifier: Apache-2.0

package spinlock

import (
	"bytes"
	"encoding/binary"
	"os"
	"path/filepath"
	"slices"
	"testing"
	"time"

	"github.com/cilium/ebpf"
	"github.com/cilium/ebpf/asm"
)

// FuzzCheck feeds Check arbitrary bytes and mutated real objects: it must never panic,
// and must finish in bounded time whatever the input.
func FuzzCheck(f *testing.F) {
	seeds, _ := filepath.Glob(filepath.Join(corpusDir, "*.bpf.o"))
	seeds = append(seeds, filepath.Join("..", "bpf", "minimal.bpf.o"))
	for _, p := range seeds {
		// big_lb.bpf.o (1.3 MB) is checked by TestBigProgram: as a seed, each of its
		// mutations would cost the fuzzer a second.
		if b, err := os.ReadFile(p); err == nil && len(b) < 256<<10 {
			f.Add(b)
		}
	}
	f.Add([]byte("\x7fELF"))
	walkBudget = 1 << 16 // a mutated loop runs to the budget; keep each input fast
	f.Fuzz(func(t *testing.T, b []byte) {
		start := time.Now()
		for _, v := range []Version{v6_1, v6_18} {
			rep, err := Check(b, &Options{Kernel: v})
			if err != nil {
				if rep != nil {
					t.Fatalf("Check returned a report and an error: %v", err)
				}
				return
			}
			for _, f := range rep.Findings {
				if f.Message == "" || (f.Rule == "" && f.Severity != SeverityWarning) {
					t.Fatalf("finding without message, or an error without a rule: %+v", f)
				}
			}
			_ = rep.Err()
		}
		if d := time.Since(start); d > 10*time.Second {
			t.Fatalf("Check took %v", d)
		}
	})
}

// FuzzInterpret feeds the path walker arbitrary instruction streams (as raw BPF
// instructions, against maps "m" and "m2" whose values hold a lock): it must never panic
// and must stop within its budget whatever the jumps, loops and calls. And where the walk
// ends a path because nothing is left to find (lockFreeTail), it must find what a walk
// of every path finds.
func FuzzInterpret(f *testing.F) {
	for _, insns := range []asm.Instructions{
		seq(lookup("m", asm.R6, "out"), lockVia(asm.FnSpinLock, asm.R6, 4), lockVia(asm.FnSpinUnlock, asm.R6, 4), exitBlock("out")),
		seq(one(asm.Mov.Imm(asm.R9, 0), asm.Add.Imm(asm.R9, 1).WithSymbol("spin"), asm.JLT.Imm(asm.R9, 100, "spin")), exitBlock("end")),
	} {
		var buf bytes.Buffer
		if err := link(insns).Marshal(&buf, binary.LittleEndian); err == nil {
			f.Add(buf.Bytes())
		}
	}
	walkBudget = 1 << 16 // four walks per input: a loop that runs to the budget must stay fast
	f.Fuzz(func(t *testing.T, raw []byte) {
		if len(raw) > 4096*8 {
			return
		}
		insns, err := asm.AppendInstructions(nil, bytes.NewReader(raw), binary.LittleEndian, "linux")
		if err != nil || len(insns) == 0 {
			return
		}
		// Map loads name a map of the spec, so that lookups and locks are followed.
		for i := range insns {
			if insns[i].IsLoadFromMap() {
				insns[i] = insns[i].WithReference([]string{"m", "m2"}[i%2])
			}
		}
		insns[0] = insns[0].WithSymbol("prog")
		start := time.Now()
		for _, v := range []Version{v6_1, v6_18} {
			var found [2][]string
			complete := true
			for i, noCuts := range []bool{false, true} {
				spec := testSpec("tc", nil)
				spec.Programs["prog"] = &ebpf.ProgramSpec{Name: "prog", SectionName: "tc", Instructions: insns}
				c := newChecker(spec, nil, Options{Kernel: v})
				found[i], _ = findingKeys(t, c, noCuts)
				// a walk that stopped: the two may stop in different places
				complete = complete && len(c.report.Incomplete()) == 0
			}
			if complete && !slices.Equal(found[0], found[1]) {
				t.Fatalf("%s: the walk that ends where nothing is left found %q; the walk of every path %q", v, found[0], found[1])
			}
		}
		if d := time.Since(start); d > 10*time.Second {
			t.Fatalf("walk took %v", d)
		}
	})
}
