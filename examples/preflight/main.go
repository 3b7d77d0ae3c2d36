// SPDX-License-Identifier: Apache-2.0

// Command preflight shows bpfkit's spin-lock check at work. It first opens
// preflight_bad.bpf.o, a tracepoint that updates a hash map whose values hold a
// bpf_spin_lock: Load stops before anything reaches the kernel and returns a
// *spinlock.Error naming the program, the map, the source line, the rule (P2) and the
// kernel's own words. It then loads the fixed twin, preflight_good.bpf.o (the same body
// as a tp_btf program, which may use the lock), attaches it, makes a few write() calls
// and reads this process's counters with the lock held (BPF_F_LOCK).
//
//	sudo go run ./examples/preflight -writes 10
package main

import (
	"errors"
	"flag"
	"fmt"
	"io"
	"log"
	"os"

	"github.com/bpfkit/bpfkit/bpf/preflight"
	"github.com/bpfkit/bpfkit/loader"
	"github.com/bpfkit/bpfkit/maps"
	"github.com/bpfkit/bpfkit/spinlock"
)

// Stats is struct stats of bpf/preflight/preflight_good.bpf.c.
type Stats struct {
	Lock   maps.SpinLock
	_      uint32
	Calls  uint64
	LastNs uint64
}

// Result is what one run saw.
type Result struct {
	Stopped *spinlock.Error // why the check stopped preflight_bad.bpf.o
	Writes  int             // write() calls made while the good program was attached
	Stats   Stats           // this process's counters, read under the lock
}

// run stops the bad object, loads the good one and counts writes to out.
func run(out io.Writer, writes int) (*Result, error) {
	res := &Result{}

	bad, err := loader.OpenBytes("preflight_bad.bpf.o", preflight.Bad, nil)
	if err != nil {
		return nil, err
	}
	defer bad.Close()
	err = bad.Load()
	if !errors.As(err, &res.Stopped) {
		return nil, fmt.Errorf("preflight_bad.bpf.o: want the spin-lock check to stop Load, got %v", err)
	}
	fmt.Fprintf(out, "Load stopped before the kernel saw anything:\n%v\n\n", err)

	good, err := loader.OpenBytes("preflight_good.bpf.o", preflight.Good, nil)
	if err != nil {
		return nil, err
	}
	defer good.Close()
	if err := good.Load(); err != nil {
		return nil, err
	}
	if err := good.Attach(); err != nil {
		return nil, err
	}
	m, err := good.Map("stats")
	if err != nil {
		return nil, err
	}
	stats, err := maps.NewHash[uint32, Stats](m)
	if err != nil {
		return nil, err
	}
	fmt.Fprintf(out, "preflight_good.bpf.o (tp_btf/sys_enter) loaded and attached\n")
	devnull, err := os.OpenFile(os.DevNull, os.O_WRONLY, 0)
	if err != nil {
		return nil, err
	}
	defer devnull.Close()
	for range writes {
		if _, err := devnull.Write([]byte("x")); err != nil {
			return nil, err
		}
		res.Writes++
	}
	res.Stats, err = stats.LookupLocked(uint32(os.Getpid()))
	if err != nil {
		return res, fmt.Errorf("reading this process's counters: %w", err)
	}
	fmt.Fprintf(out, "made %d write() calls; the program counted %d by this process (last at %d ns)\n", res.Writes, res.Stats.Calls, res.Stats.LastNs)
	return res, nil
}

func main() {
	writes := flag.Int("writes", 10, "write() calls to make while the good program is attached")
	flag.Parse()
	log.SetFlags(0)
	if _, err := run(os.Stdout, *writes); err != nil {
		log.Fatalf("preflight: %v", err)
	}
}
