// SPDX-License-Identifier: Apache-2.0

package spinlock

import (
	"encoding/json"
	"os"
	"path/filepath"
	"slices"
	"testing"
)

// corpusDir holds the spin-lock corpus and the kernel's recorded verdicts (manifest.json).
var corpusDir = filepath.Join("..", "bpf", "testdata", "spinlock")

type corpusEntry struct {
	Object        string `json:"object"`
	Program       string `json:"program"`
	Rule          string `json:"rule"`
	TwinOf        string `json:"twin_of"`
	KernelRejects bool   `json:"kernel_rejects"`
	KernelMessage string `json:"kernel_message"`
	Note          string `json:"note"`
}

func readCorpus(t testing.TB) (Version, []corpusEntry) {
	t.Helper()
	b, err := os.ReadFile(filepath.Join(corpusDir, "manifest.json"))
	if err != nil {
		t.Fatalf("corpus manifest (committed with the corpus): %v", err)
	}
	var m struct {
		Kernel   string        `json:"kernel"`
		Programs []corpusEntry `json:"programs"`
	}
	if err := json.Unmarshal(b, &m); err != nil {
		t.Fatalf("manifest.json: %v", err)
	}
	v, err := ParseVersion(m.Kernel)
	if err != nil {
		t.Fatal(err)
	}
	return v, m.Programs
}

// TestCorpusVerdicts checks every program of the corpus against the verdict the kernel
// gave when it was loaded alone (recorded in manifest.json), without loading anything:
// an error finding for exactly the programs the kernel refused, under the recorded rule.
func TestCorpusVerdicts(t *testing.T) {
	kernel, entries := readCorpus(t)
	reports := map[string]*Report{}
	agree := 0
	for _, e := range entries {
		t.Run(e.Object+"/"+e.Program, func(t *testing.T) {
			rep := reports[e.Object]
			if rep == nil {
				b, err := os.ReadFile(filepath.Join(corpusDir, e.Object))
				if err != nil {
					t.Fatal(err)
				}
				rep, err = Check(b, &Options{Kernel: kernel, Name: e.Object})
				if err != nil {
					t.Fatalf("Check: %v", err)
				}
				reports[e.Object] = rep
			}
			var rules []string
			var all []Finding
			for _, f := range rep.Findings {
				if f.Program != e.Program {
					continue
				}
				all = append(all, f)
				if f.Severity == SeverityError {
					rules = append(rules, f.Rule)
				}
			}
			rejects := len(rules) > 0
			switch {
			case rejects != e.KernelRejects:
				t.Errorf("kernel rejects=%v (%q), check rejects=%v: %v", e.KernelRejects, e.KernelMessage, rejects, all)
			case e.KernelRejects && !slices.Contains(rules, e.Rule):
				t.Errorf("kernel refused under %s (%q), check says %v: %v", e.Rule, e.KernelMessage, rules, all)
			default:
				agree++
			}
			if e.KernelRejects {
				if got := RuleForVerifierLog(e.KernelMessage); !slices.Contains(rulesForVerifierLog(e.KernelMessage), e.Rule) && got != e.Rule {
					t.Errorf("rulesForVerifierLog(%q) = %v, want it to include %s", e.KernelMessage, rulesForVerifierLog(e.KernelMessage), e.Rule)
				}
			}
		})
	}
	t.Logf("check vs recorded kernel %s verdicts: %d/%d programs agree", kernel, agree, len(entries))
}
