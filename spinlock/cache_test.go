// SPDX-License-Identifier: Apache-2.0

package spinlock

import (
	"os"
	"path/filepath"
	"testing"
)

// TestCache: a repeated check answers from the cache with a report of its own, and any
// change to the bytes or the options is a new check.
func TestCache(t *testing.T) {
	elf, err := os.ReadFile(filepath.Join(corpusDir, "p_progtype.bpf.o"))
	if err != nil {
		t.Fatal(err)
	}
	first, err := Check(elf, &Options{Kernel: v6_18, Name: "p.bpf.o"})
	if err != nil {
		t.Fatal(err)
	}
	n := len(first.Findings)
	if n == 0 {
		t.Fatal("p_progtype has findings")
	}
	first.Findings[0].Message = "changed by the caller"
	first.Findings = first.Findings[:1]
	again, _ := Check(elf, &Options{Kernel: v6_18, Name: "p.bpf.o"})
	if len(again.Findings) != n || again.Findings[0].Message == "changed by the caller" {
		t.Errorf("the cached report was changed through the first caller's copy")
	}
	// Another kernel is another check (P3 exists on 6.1 only).
	old, _ := Check(elf, &Options{Kernel: v6_1, Name: "p.bpf.o"})
	if rulesOf(old)["syscall_lock"] != "P3" || rulesOf(again)["syscall_lock"] != "" {
		t.Errorf("6.1: %v; 6.18: %v", rulesOf(old)["syscall_lock"], rulesOf(again)["syscall_lock"])
	}
	// Other bytes are another check.
	clean, err := os.ReadFile(filepath.Join(corpusDir, "m_storage.bpf.o"))
	if err != nil {
		t.Fatal(err)
	}
	rep, _ := Check(clean, &Options{Kernel: v6_18, Name: "p.bpf.o"})
	if len(rep.Errors()) != 0 {
		t.Errorf("m_storage answered with another object's report: %v", rep.Findings)
	}
}

func rulesOf(r *Report) map[string]string {
	out := map[string]string{}
	for _, f := range r.Errors() {
		out[f.Program] = f.Rule
	}
	return out
}

// BenchmarkCheckFirst measures a check the cache cannot answer, beside a repeated one.
func BenchmarkCheckFirst(b *testing.B) {
	elf, err := os.ReadFile(filepath.Join("..", "bpf", "examples", "spinlock.bpf.o"))
	if err != nil {
		b.Fatal(err)
	}
	b.Run("first", func(b *testing.B) {
		saved := reports
		reports = nil
		defer func() { reports = saved }()
		b.ReportAllocs()
		for b.Loop() {
			if _, err := Check(elf, &Options{Kernel: v6_18}); err != nil {
				b.Fatal(err)
			}
		}
	})
	b.Run("repeated", func(b *testing.B) {
		b.ReportAllocs()
		for b.Loop() {
			if _, err := Check(elf, &Options{Kernel: v6_18}); err != nil {
				b.Fatal(err)
			}
		}
	})
}
