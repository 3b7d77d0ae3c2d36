package spinlock

import (
	"os"
	"path/filepath"
	"testing"
	"time"
)

// FuzzCheck feeds Check arbitrary bytes and mutated real objects: it must never panic,
// and must finish in bounded time whatever the input.
func FuzzCheck(f *testing.F) {
	seeds, _ := filepath.Glob(filepath.Join(corpusDir, "*.bpf.o"))
	seeds = append(seeds, filepath.Join("..", "bpf", "minimal.bpf.o"))
	for _, p := range seeds {
		if b, err := os.ReadFile(p); err == nil {
			f.Add(b)
		}
	}
	f.Add([]byte("\x7fELF"))
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
				if f.Rule == "" || f.Message == "" {
					t.Fatalf("finding without rule or message: %+v", f)
				}
			}
			_ = rep.Err()
		}
		if d := time.Since(start); d > 10*time.Second {
			t.Fatalf("Check took %v", d)
		}
	})
}
