// SPDX-License-Identifier: Apache-2.0

// Command minimal is libbpf's "minimal" example in Go: it loads a tracepoint program on
// write() that reacts only to this process's PID, writes "." to stderr every second to
// fire it, and prints the program's bpf_printk lines, which it reads from the kernel's
// trace pipe itself (the C version asked you to `sudo cat trace_pipe`).
//
// Run it as root (or with CAP_BPF and CAP_PERFMON): `make demo`, or
// `go run ./examples/minimal -duration 10s`. Ctrl-C detaches everything and exits.
package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"os"
	"os/signal"
	"runtime"
	"syscall"
	"time"

	"golang.org/x/sys/unix"

	"github.com/bpfkit/bpfkit/bpf"
	"github.com/bpfkit/bpfkit/loader"
	"github.com/bpfkit/bpfkit/loader/tracepipe"
)

func main() {
	duration := flag.Duration("duration", 0, "stop after this long (0: run until Ctrl-C)")
	flag.Parse()
	if err := run(*duration); err != nil {
		fmt.Fprintf(os.Stderr, "minimal: %v\n", err)
		os.Exit(1)
	}
}

func run(duration time.Duration) error {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	if duration > 0 {
		var cancel context.CancelFunc
		ctx, cancel = context.WithTimeout(ctx, duration)
		defer cancel()
	}

	// Open: like minimal_bpf__open().
	obj, err := loader.OpenBytes("minimal.bpf.o", bpf.Minimal, nil)
	if err != nil {
		return err
	}
	defer obj.Close() // like minimal_bpf__destroy(): links, then the object

	// Only react to this process: skel->bss->my_pid = getpid().
	if err := obj.SetGlobal("my_pid", int32(os.Getpid())); err != nil {
		return err
	}
	if err := obj.Load(); err != nil {
		return err
	}

	// A private tracefs instance gets its own copy of every bpf_printk line, so this
	// example does not steal lines from (or lose them to) another trace_pipe reader.
	pipe, err := tracepipe.Open(&tracepipe.Options{Instance: "minimal"})
	if err != nil {
		return err
	}
	defer pipe.Close()

	// A "." on stderr every second: each is a write() by this process, from one OS
	// thread kept for the purpose. Printing a record is a write() too and fires the
	// program again; only records from the ticking thread are printed, or each printed
	// line would make the next one. The thread is locked before the program is attached,
	// so that no other goroutine's write() on it can be taken for a tick.
	tid, start := make(chan int, 1), make(chan struct{})
	go func() {
		runtime.LockOSThread()
		tid <- unix.Gettid()
		<-start
		tick := time.NewTicker(time.Second)
		defer tick.Stop()
		for {
			fmt.Fprint(os.Stderr, ".")
			select {
			case <-ctx.Done():
				return
			case <-tick.C:
			}
		}
	}()
	ticker := <-tid

	if err := obj.Attach(); err != nil {
		return err
	}
	fmt.Printf("Successfully started! PID %d; its write() calls now fire handle_tp.\n", os.Getpid())
	close(start)

	echoes := 0
	for {
		rec, err := pipe.Read(ctx)
		if errors.Is(err, context.Canceled) || errors.Is(err, context.DeadlineExceeded) {
			fmt.Fprintln(os.Stderr)
			fmt.Printf("Detaching and exiting (%d more records came from this program's own output).\n", echoes)
			return nil
		}
		if err != nil {
			return err
		}
		if rec.Event != "bpf_trace_printk" {
			continue
		}
		if rec.PID != ticker {
			echoes++
			continue
		}
		fmt.Printf("%s-%d [%03d] %s\n", rec.Task, rec.PID, rec.CPU, rec.Message)
	}
}
