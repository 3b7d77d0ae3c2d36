// SPDX-License-Identifier: Apache-2.0

package loader_test

import (
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"testing"

	"github.com/bpfkit/bpfkit/bpf"
	"github.com/bpfkit/bpfkit/internal/testutil"
	"github.com/bpfkit/bpfkit/loader"
	"github.com/bpfkit/bpfkit/spinlock"
)

// BenchmarkLifecycle measures open → set my_pid → load → attach → close of the minimal
// object, in bpfkit and, as the baseline in the same run, in C through a skeleton that
// `bpftool gen skeleton` makes of the same object. Compare the two ns/op: the ratio is
// what docs/BENCHMARKS.md reports.
func BenchmarkLifecycle(b *testing.B) {
	testutil.RequirePrivileged(b)
	b.Run("bpfkit", func(b *testing.B) {
		b.ReportAllocs()
		pid := int32(os.Getpid())
		for b.Loop() {
			obj, err := loader.OpenBytes("minimal.bpf.o", bpf.Minimal, nil)
			if err != nil {
				b.Fatal(err)
			}
			if err := obj.SetGlobal("my_pid", pid); err != nil {
				b.Fatal(err)
			}
			if err := obj.Load(); err != nil {
				b.Fatal(err)
			}
			if err := obj.Attach(); err != nil {
				b.Fatal(err)
			}
			if err := obj.Close(); err != nil {
				b.Fatal(err)
			}
		}
	})
	b.Run("C-skeleton", func(b *testing.B) {
		bin := cSkeletonBinary(b)
		// The C program times its own loop; its mean replaces the benchmark's ns/op,
		// so process start-up is not charged to C.
		b.StopTimer()
		out, err := exec.Command(bin, strconv.Itoa(b.N)).Output()
		if err != nil {
			b.Fatalf("%s: %v", bin, err)
		}
		ns, err := strconv.ParseFloat(strings.TrimSpace(string(out)), 64)
		if err != nil {
			b.Fatalf("C baseline printed %q: %v", out, err)
		}
		b.ReportMetric(ns, "ns/op")
	})
}

var (
	cSkelOnce sync.Once
	cSkelBin  string
	cSkelErr  string
)

// cSkeletonBinary builds bench/skeleton/minimal_cycles.c against a skeleton of
// bpf/minimal.bpf.o, once per run.
func cSkeletonBinary(b *testing.B) string {
	cSkelOnce.Do(func() {
		dir, err := os.MkdirTemp("", "bpfkit-skel-")
		if err != nil {
			cSkelErr = err.Error()
			return
		}
		skel, err := exec.Command("bpftool", "gen", "skeleton", filepath.Join("..", "bpf", "minimal.bpf.o"), "name", "minimal_bpf").Output()
		if err != nil {
			cSkelErr = "bpftool gen skeleton: " + err.Error()
			return
		}
		if err := os.WriteFile(filepath.Join(dir, "minimal.skel.h"), skel, 0o644); err != nil {
			cSkelErr = err.Error()
			return
		}
		cSkelBin = filepath.Join(dir, "minimal_cycles")
		src, _ := filepath.Abs(filepath.Join("..", "bench", "skeleton", "minimal_cycles.c"))
		out, err := exec.Command("cc", "-O2", "-I", dir, "-o", cSkelBin, src, "-lbpf", "-lelf", "-lz").CombinedOutput()
		if err != nil {
			cSkelErr = "building the C baseline: " + err.Error() + "\n" + string(out)
		}
	})
	if cSkelErr != "" {
		b.Fatal(cSkelErr)
	}
	return cSkelBin
}

// BenchmarkLoadCheckCost measures open → load → close of the examples' objects with the
// spin-lock check off and on, in one run: the difference is what the check adds to Load.
func BenchmarkLoadCheckCost(b *testing.B) {
	testutil.RequirePrivileged(b)
	objects := []struct{ name, path string }{
		{"minimal", "minimal.bpf.o"},
		{"spinlock", "examples/spinlock.bpf.o"},
		{"preflight_good", "preflight/preflight_good.bpf.o"},
	}
	for _, o := range objects {
		elf, err := os.ReadFile(filepath.Join("..", "bpf", o.path))
		if err != nil {
			b.Fatal(err)
		}
		for _, mode := range []struct {
			name string
			mode spinlock.Mode
		}{{"check=off", spinlock.Off}, {"check=on", spinlock.Enforce}} {
			b.Run(o.name+"/"+mode.name, func(b *testing.B) {
				b.ReportAllocs()
				for b.Loop() {
					obj, err := loader.OpenBytes(o.path, elf, &loader.Options{Preflight: spinlock.Preflight{Mode: mode.mode}})
					if err != nil {
						b.Fatal(err)
					}
					if err := obj.Load(); err != nil {
						b.Fatal(err)
					}
					if err := obj.Close(); err != nil {
						b.Fatal(err)
					}
				}
			})
		}
	}
}
