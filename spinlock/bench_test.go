// SPDX-License-Identifier: Apache-2.0

package spinlock

import (
	"bytes"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/cilium/ebpf"
)

// BenchmarkCheck measures the whole check on the minimal example's object and on each
// corpus object, next to its baseline in the same run: parsing the object alone with
// cilium/ebpf, which the check cannot avoid.
func BenchmarkCheck(b *testing.B) {
	// The analysis itself, not the cache of repeated checks (BenchmarkCheckFirst has both).
	saved := reports
	reports = nil
	defer func() { reports = saved }()
	paths, _ := filepath.Glob(filepath.Join(corpusDir, "*.bpf.o"))
	paths = append([]string{filepath.Join("..", "bpf", "minimal.bpf.o")}, paths...)
	for _, p := range paths {
		elf, err := os.ReadFile(p)
		if err != nil {
			b.Fatal(err)
		}
		name := strings.TrimSuffix(filepath.Base(p), ".bpf.o")
		b.Run(name+"/parse", func(b *testing.B) {
			b.ReportAllocs()
			b.SetBytes(int64(len(elf)))
			for b.Loop() {
				if _, err := ebpf.LoadCollectionSpecFromReader(bytes.NewReader(elf)); err != nil {
					b.Skip(err) // named .bss sub-sections: only the check reads them
				}
			}
		})
		b.Run(name+"/check", func(b *testing.B) {
			b.ReportAllocs()
			b.SetBytes(int64(len(elf)))
			for b.Loop() {
				if _, err := Check(elf, &Options{Kernel: v6_18}); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}
