// SPDX-License-Identifier: Apache-2.0

// Command skeleton is the minimal example (a tracepoint on write() for this process) on the typed Go skeleton that
// `bpfkit gen` writes of bpf/minimal.bpf.o (package ./minimal). It reads line for line
// like minimal.c: open the skeleton, set skel->bss->my_pid, load, attach, and print a
// "." every second while the tracepoint program on write() prints, through bpf_printk,
// "BPF triggered from PID …" for this process only. Read those lines with
// `sudo cat /sys/kernel/tracing/trace_pipe`.
//
// Run it as root (or with CAP_BPF and CAP_PERFMON): `go run ./examples/skeleton`.
package main

//go:generate go run github.com/bpfkit/bpfkit/cmd/bpfkit gen -package minimal -output minimal/minimal.skel.go ../../bpf/minimal.bpf.o

import (
	"context"
	"flag"
	"fmt"
	"os"
	"os/signal"
	"syscall"
	"time"

	"github.com/bpfkit/bpfkit/examples/skeleton/minimal"
)

func main() {
	duration := flag.Duration("duration", 0, "stop after this long (0: run until Ctrl-C)")
	flag.Parse()
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	if *duration > 0 {
		var cancel context.CancelFunc
		ctx, cancel = context.WithTimeout(ctx, *duration)
		defer cancel()
	}
	os.Exit(run(ctx))
}

func run(ctx context.Context) int {
	skel, err := minimal.Open(nil)
	if err != nil {
		fmt.Fprintf(os.Stderr, "Failed to open BPF skeleton: %v\n", err)
		return 1
	}
	defer skel.Close()

	// ensure BPF program only handles write() syscalls from our process
	skel.BSS.MyPid = int32(os.Getpid())

	// Load & verify BPF programs
	if err := skel.Load(); err != nil {
		fmt.Fprintf(os.Stderr, "Failed to load and verify BPF skeleton: %v\n", err)
		return 1
	}

	// Attach tracepoint handler
	if err := skel.Attach(); err != nil {
		fmt.Fprintf(os.Stderr, "Failed to attach BPF skeleton: %v\n", err)
		return 1
	}

	fmt.Printf("Successfully started! Please run `sudo cat /sys/kernel/tracing/trace_pipe` to see output of the BPF programs (PID %d).\n", os.Getpid())

	for {
		// trigger our BPF program
		fmt.Fprint(os.Stderr, ".")
		select {
		case <-ctx.Done():
			fmt.Fprintln(os.Stderr)
			return 0
		case <-time.After(time.Second):
		}
	}
}
