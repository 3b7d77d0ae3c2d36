// SPDX-License-Identifier: Apache-2.0

package main

import (
	"bytes"
	"errors"
	"os"
	"strings"
	"testing"

	"github.com/bpfkit/bpfkit/bpf/preflight"
	"github.com/bpfkit/bpfkit/internal/testutil"
	"github.com/bpfkit/bpfkit/spinlock"
)

// TestCheckVerdicts needs no privileges: the check alone refuses the bad object under
// P2 and passes the good one, on every kernel the rules know.
func TestCheckVerdicts(t *testing.T) {
	for _, v := range []spinlock.Version{{Major: 6, Minor: 1}, {Major: 6, Minor: 18}} {
		rep, err := spinlock.Check(preflight.Bad, &spinlock.Options{Kernel: v, Name: "preflight_bad.bpf.o"})
		if err != nil {
			t.Fatal(err)
		}
		var se *spinlock.Error
		if !errors.As(rep.Err(), &se) || len(se.Findings) != 1 || se.Findings[0].Rule != "P2" || se.Findings[0].Map != "stats" {
			t.Errorf("%s: bad object: %v", v, rep.Err())
		}
		rep, err = spinlock.Check(preflight.Good, &spinlock.Options{Kernel: v, Name: "preflight_good.bpf.o"})
		if err != nil {
			t.Fatal(err)
		}
		if err := rep.Err(); err != nil {
			t.Errorf("%s: good object: %v", v, err)
		}
	}
}

// TestRun runs the example against the kernel.
func TestRun(t *testing.T) {
	testutil.RequirePrivileged(t)
	var out bytes.Buffer
	res, err := run(&out, 5)
	if err != nil {
		if strings.Contains(err.Error(), "tp_btf") && errors.Is(err, os.ErrPermission) {
			t.Skipf("tp_btf refused here: %v", err)
		}
		t.Fatalf("run: %v\n%s", err, out.String())
	}
	if res.Stopped == nil || res.Stopped.Findings[0].Rule != "P2" {
		t.Errorf("bad object stopped by %v", res.Stopped)
	}
	if !strings.Contains(out.String(), "tracing progs cannot use bpf_spin_lock yet") {
		t.Errorf("output does not quote the kernel's words:\n%s", out.String())
	}
	// The program counts every write() of this process while attached: at least the
	// ones run made to /dev/null.
	if res.Writes != 5 || res.Stats.Calls < uint64(res.Writes) || res.Stats.LastNs == 0 {
		t.Errorf("made %d writes, the program counted %d (last %d ns):\n%s", res.Writes, res.Stats.Calls, res.Stats.LastNs, out.String())
	}
}
