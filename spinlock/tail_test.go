// SPDX-License-Identifier: Apache-2.0

package spinlock

import (
	"fmt"
	"math/rand/v2"
	"os"
	"path/filepath"
	"slices"
	"testing"

	"github.com/cilium/ebpf/asm"

	"github.com/bpfkit/bpfkit/internal/objfile"
)

// findingKeys runs the checker and lists its findings; noCuts walks every path to its
// end. It returns the number of paths lockFreeTail ended.
func findingKeys(t *testing.T, c *checker, noCuts bool) ([]string, int) {
	t.Helper()
	c.noCuts = noCuts
	c.run()
	var keys []string
	for _, f := range c.report.Findings {
		keys = append(keys, fmt.Sprintf("%s %s %s at %d", f.Severity, f.Rule, f.Program, f.Insn))
	}
	return keys, c.cuts
}

// TestCutsChangeNothing: on every object of the corpus (each kernel keying) and on
// generated programs with and without a planted bug, the walk that ends paths with
// nothing left to find (lockFreeTail) reports exactly what a walk of every path reports.
// The cuts must have happened.
func TestCutsChangeNothing(t *testing.T) {
	paths, err := filepath.Glob(filepath.Join(corpusDir, "*.bpf.o"))
	if err != nil || len(paths) == 0 {
		t.Fatalf("no corpus objects in %s: %v", corpusDir, err)
	}
	cuts := 0
	for _, path := range paths {
		elf, err := os.ReadFile(path)
		if err != nil {
			t.Fatal(err)
		}
		parsed, err := objfile.Parse(elf)
		if err != nil {
			t.Fatalf("%s: %v", path, err)
		}
		for _, v := range []Version{v6_1, v6_18} {
			name := filepath.Base(path)
			opts := Options{Kernel: v, Name: name}
			cut, n := findingKeys(t, newChecker(parsed.Spec, parsed.Renames, opts), false)
			all, _ := findingKeys(t, newChecker(parsed.Spec, parsed.Renames, opts), true)
			if !slices.Equal(cut, all) {
				t.Errorf("%s for %s: with the cuts %q; walking everything %q", name, v, cut, all)
			}
			cuts += n
		}
	}
	for n := range 40 {
		for _, bug := range []genBug{bugNone, bugExit, bugCall} {
			r := rand.New(rand.NewPCG(uint64(n), uint64(bug)))
			insns := genProgram(r, 1+n, n%4, bug, n/2)
			spec := testSpec("tc", map[string]asm.Instructions{"prog": insns})
			cut, k := findingKeys(t, newChecker(spec, nil, Options{Kernel: v6_18, Name: "gen.bpf.o"}), false)
			all, _ := findingKeys(t, newChecker(spec, nil, Options{Kernel: v6_18, Name: "gen.bpf.o"}), true)
			if !slices.Equal(cut, all) {
				t.Errorf("generated program %d, bug %d: with the cuts %q; walking everything %q", n, bug, cut, all)
			}
			cuts += k
		}
	}
	if cuts == 0 {
		t.Fatal("no path ended early: the test compares nothing")
	}
	t.Logf("%d paths ended early, no finding changed", cuts)
}
