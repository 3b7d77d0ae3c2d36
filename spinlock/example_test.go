// SPDX-License-Identifier: Apache-2.0

package spinlock_test

import (
	"errors"
	"fmt"
	"os"

	"github.com/bpfkit/bpfkit/spinlock"
)

// Check an object for the 6.1 and 6.18 kernels, before loading anything.
func ExampleCheck() {
	elf, err := os.ReadFile("../bpf/preflight/preflight_bad.bpf.o")
	if err != nil {
		fmt.Println(err)
		return
	}
	for _, kernel := range []string{"6.1", "6.18"} {
		v, _ := spinlock.ParseVersion(kernel)
		rep, err := spinlock.Check(elf, &spinlock.Options{Kernel: v, Name: "preflight_bad.bpf.o"})
		if err != nil {
			fmt.Println(err) // not a readable BPF object
			return
		}
		var se *spinlock.Error
		if errors.As(rep.Err(), &se) {
			for _, f := range se.Findings {
				fmt.Printf("%s: %s line %d: %s %s in %q (map %q)\n", kernel, f.File, f.Line, f.Severity, f.Rule, f.Program, f.Map)
			}
		}
	}
	// Output:
	// 6.1: ./bpf/preflight/preflight_bad.bpf.c line 33: error P2 in "count_writes" (map "stats")
	// 6.18: ./bpf/preflight/preflight_bad.bpf.c line 33: error P2 in "count_writes" (map "stats")
}

// Find which rule a verifier log that the kernel produced is about.
func ExampleRuleForVerifierLog() {
	log := "12: (85) call bpf_get_prandom_u32#7\nfunction calls are not allowed while holding a lock\nprocessed 12 insns"
	fmt.Println(spinlock.RuleForVerifierLog(log))
	// Output: I1
}
