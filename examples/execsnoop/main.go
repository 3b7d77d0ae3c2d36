// SPDX-License-Identifier: Apache-2.0

// Command execsnoop prints one line per execve(2): the process, its parent, its name and
// the file it executes, read from a ring buffer as typed events. It is the example of
// going from C to typed Go in one go:generate line: `bpfkit gen` compiles
// execsnoop.bpf.c into execsnoop.bpf.o and writes execsnoop.skel.go (package main), in
// which the ring buffer is a *maps.RingBuf[Event] that Load makes.
//
// Run it as root (or with CAP_BPF and CAP_PERFMON): `go run ./examples/execsnoop`, or
// `-ppid N` for the children of process N only.
package main

//go:generate go run github.com/bpfkit/bpfkit/cmd/bpfkit gen -type events=event execsnoop.bpf.c

import (
	"bytes"
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"os/signal"
	"syscall"
)

func main() {
	duration := flag.Duration("duration", 0, "stop after this long (0: run until Ctrl-C)")
	ppid := flag.Uint("ppid", 0, "trace the children of this process only (0: every process)")
	flag.Parse()
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	if *duration > 0 {
		var cancel context.CancelFunc
		ctx, cancel = context.WithTimeout(ctx, *duration)
		defer cancel()
	}
	if err := run(ctx, uint32(*ppid), os.Stdout); err != nil {
		fmt.Fprintf(os.Stderr, "execsnoop: %v\n", err)
		os.Exit(1)
	}
}

func run(ctx context.Context, ppid uint32, out io.Writer) error {
	skel, err := Open(nil)
	if err != nil {
		return err
	}
	defer skel.Close()

	// .rodata is frozen at Load: set it before, through a copy
	ro := skel.Rodata()
	ro.TargPpid = ppid
	if err := skel.SetRodata(ro); err != nil {
		return err
	}
	if err := skel.Load(); err != nil {
		return err
	}
	if err := skel.Attach(); err != nil {
		return err
	}

	fmt.Fprintf(out, "%-8s %-8s %-16s %s\n", "PID", "PPID", "COMM", "FILENAME")
	var e Event
	for {
		if err := skel.Maps.Events.ReadInto(ctx, &e); err != nil {
			if errors.Is(err, context.Canceled) || errors.Is(err, context.DeadlineExceeded) {
				return nil
			}
			return err
		}
		fmt.Fprintf(out, "%-8d %-8d %-16s %s\n", e.Pid, e.Ppid, cString(e.Comm[:]), cString(e.Filename[:]))
	}
}

// cString is a NUL-terminated C string's text.
func cString(b []byte) string {
	if i := bytes.IndexByte(b, 0); i >= 0 {
		b = b[:i]
	}
	return string(b)
}
