// SPDX-License-Identifier: Apache-2.0

package main

import (
	"os"
	"testing"

	"github.com/bpfkit/bpfkit/bpf"
	"github.com/bpfkit/bpfkit/examples/skeleton/minimal"
	"github.com/bpfkit/bpfkit/internal/testutil"
	"github.com/bpfkit/bpfkit/loader"
)

// BenchmarkLifecycle compares one open, set my_pid, load, attach, close of minimal.bpf.o
// through the generated skeleton with the same through the loader directly (the
// baseline, in the same run): the skeleton adds reading and writing its sections, the
// live mapping of .bss, and looking up its programs.
func BenchmarkLifecycle(b *testing.B) {
	testutil.RequirePrivileged(b)
	pid := int32(os.Getpid())
	b.Run("loader", func(b *testing.B) {
		for b.Loop() {
			obj, err := loader.OpenBytes("minimal", bpf.Minimal, nil)
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
			obj.Close()
		}
	})
	b.Run("skeleton", func(b *testing.B) {
		for b.Loop() {
			skel, err := minimal.Open(nil)
			if err != nil {
				b.Fatal(err)
			}
			skel.BSS.MyPid = pid
			if err := skel.Load(); err != nil {
				b.Fatal(err)
			}
			if err := skel.Attach(); err != nil {
				b.Fatal(err)
			}
			skel.Close()
		}
	})
}
