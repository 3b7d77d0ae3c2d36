// SPDX-License-Identifier: Apache-2.0

package tracepipe_test

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"golang.org/x/sys/unix"

	"github.com/bpfkit/bpfkit/internal/testutil"
	"github.com/bpfkit/bpfkit/loader/tracepipe"
)

func TestParse(t *testing.T) {
	tests := []struct {
		line string
		want tracepipe.Record
	}{
		{
			line: "     loader.test-10098   [001] ...21   609.489611: bpf_trace_printk: BPF triggered from PID 10098.",
			want: tracepipe.Record{Task: "loader.test", PID: 10098, CPU: 1, Flags: "...21", Time: 609*time.Second + 489611*time.Microsecond, Event: "bpf_trace_printk", Message: "BPF triggered from PID 10098."},
		},
		{ // a comm with a dash and spaces, the tgid column, no flags
			line: "  kworker/u4:2-my job-77 (     70) [000] 12.000001: bpf_trace_printk: a: b",
			want: tracepipe.Record{Task: "kworker/u4:2-my job", PID: 77, CPU: 0, Time: 12*time.Second + time.Microsecond, Event: "bpf_trace_printk", Message: "a: b"},
		},
		{
			line: "           <...>-5     [003] d.h.. 100.5: bpf_trace_printk: x",
			want: tracepipe.Record{Task: "<...>", PID: 5, CPU: 3, Flags: "d.h..", Time: 100*time.Second + 500*time.Millisecond, Event: "bpf_trace_printk", Message: "x"},
		},
		{
			line: "CPU:1 [LOST 12 EVENTS]",
			want: tracepipe.Record{Message: "CPU:1 [LOST 12 EVENTS]"},
		},
	}
	for _, tt := range tests {
		got := tracepipe.Parse(tt.line)
		tt.want.Raw = tt.line
		if got != tt.want {
			t.Errorf("Parse(%q)\n got %+v\nwant %+v", tt.line, got, tt.want)
		}
	}
}

// traceInstance opens a Pipe on an instance of its own, closed when the test ends.
func traceInstance(t *testing.T) *tracepipe.Pipe {
	t.Helper()
	testutil.RequirePrivileged(t)
	tp, err := tracepipe.Open(&tracepipe.Options{Instance: "test"})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = tp.Close() })
	return tp
}

// TestCancel: Read returns promptly with the context's error, and Close removes the
// instance it created.
func TestCancel(t *testing.T) {
	tp := traceInstance(t)
	dir := tp.Instance()
	if fi, err := os.Stat(filepath.Join(dir, "trace_pipe")); err != nil || filepath.Base(filepath.Dir(dir)) != "instances" ||
		!strings.HasPrefix(filepath.Base(dir), fmt.Sprintf("bpfkit-%d-", os.Getpid())) || !strings.HasSuffix(dir, "-test") {
		t.Fatalf("instance %q: %v, %v; want instances/bpfkit-%d-START-N-test with a trace_pipe", dir, fi, err, os.Getpid())
	}
	enabled, err := os.ReadFile(filepath.Join(dir, "events", "bpf_trace", "bpf_trace_printk", "enable"))
	if err != nil || strings.TrimSpace(string(enabled)) != "1" {
		t.Fatalf("bpf_trace_printk in the instance: enable = %q, %v; want 1", enabled, err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() {
		for { // lines printed by other tests' programs may come first
			if _, err := tp.Read(ctx); err != nil {
				done <- err
				return
			}
		}
	}()
	time.Sleep(50 * time.Millisecond)
	cancel()
	select {
	case err := <-done:
		if !errors.Is(err, context.Canceled) {
			t.Fatalf("Read after cancel: %v", err)
		}
	case <-time.After(2 * time.Second):
		t.Fatal("Read did not return within 2s of cancel")
	}
	if err := tp.Close(); err != nil {
		t.Fatal(err)
	}
	if _, err := os.Stat(dir); !errors.Is(err, os.ErrNotExist) {
		t.Fatalf("instance %s still there after Close: %v", dir, err)
	}
	if err := tp.Close(); err != nil {
		t.Fatalf("second Close: %v", err)
	}
	if _, err := tp.Read(context.Background()); !errors.Is(err, tracepipe.ErrClosed) {
		t.Fatalf("Read after Close: %v", err)
	}
	if err := (*tracepipe.Pipe)(nil).Close(); err != nil {
		t.Fatalf("Close of a nil Pipe: %v", err)
	}
}

// TestLeakedPipe: a Pipe dropped without Close is reported when it is collected, with
// where it was opened, and its file is closed and its instance removed then.
func TestLeakedPipe(t *testing.T) {
	testutil.RequirePrivileged(t)
	var buf testutil.SyncBuffer
	prev := slog.Default()
	slog.SetDefault(slog.New(slog.NewTextHandler(&buf, nil)))
	t.Cleanup(func() { slog.SetDefault(prev) })

	fdsBefore := testutil.OpenFDs(t)
	dir := func() string {
		tp, err := tracepipe.Open(&tracepipe.Options{Instance: "leaked"})
		if err != nil {
			t.Fatal(err)
		}
		return tp.Instance()
	}()
	if _, err := os.Stat(dir); err != nil {
		t.Fatal(err)
	}
	deadline := time.Now().Add(5 * time.Second)
	for !strings.Contains(buf.String(), "tracepipe.Pipe") {
		if time.Now().After(deadline) {
			t.Fatalf("no leak report 5s after the Pipe became unreachable; log: %q", buf.String())
		}
		runtime.GC()
		time.Sleep(10 * time.Millisecond)
	}
	for _, w := range []string{"garbage collected without Close", filepath.Base(dir), "tracepipe_test.go:"} {
		if !strings.Contains(buf.String(), w) {
			t.Errorf("leak report %q does not mention %q", buf.String(), w)
		}
	}
	// The report comes first, then the release.
	for _, err := os.Stat(dir); !errors.Is(err, os.ErrNotExist); _, err = os.Stat(dir) {
		if time.Now().After(deadline) {
			t.Fatalf("the leaked Pipe's instance %s is still there: %v", dir, err)
		}
		time.Sleep(10 * time.Millisecond)
	}
	if after := testutil.OpenFDs(t); after != fdsBefore {
		t.Errorf("the leaked Pipe's descriptors were not closed: %d before, %d after", fdsBefore, after)
	}
}

// TestCloseWakesRead is issue 10's third finding: Close from another goroutine, while
// Read is blocked, is no data race (run with -race), wakes the Read with ErrClosed, and
// the Read never returns a line read from a file that took the pipe's descriptor number
// after Close. Each round opens pipes holding a forged trace line right after Close,
// which reuse the numbers Close freed.
func TestCloseWakesRead(t *testing.T) {
	testutil.RequirePrivileged(t)
	const forged = "FORGED by the test"
	line := []byte("   forger-1     [000] ..... 1.000001: bpf_trace_printk: " + forged + "\n")
	for round := range 100 {
		tp, err := tracepipe.Open(&tracepipe.Options{Instance: "forge"})
		if err != nil {
			t.Fatal(err)
		}
		// Read until it fails: real bpf_printk lines of other tests may come first (every
		// instance gets every line); none may be the forged one.
		done := make(chan error, 1)
		var forgedSeen atomic.Bool
		go func() {
			for {
				rec, err := tp.Read(context.Background())
				if err != nil {
					done <- err
					return
				}
				if rec.Message == forged {
					forgedSeen.Store(true)
				}
			}
		}()
		time.Sleep(time.Duration(round%5) * time.Millisecond)
		if err := tp.Close(); err != nil {
			t.Fatal(err)
		}
		var files []*os.File
		for range 4 {
			r, w, err := os.Pipe()
			if err != nil {
				t.Fatal(err)
			}
			w.Write(line)
			files = append(files, r, w)
		}
		select {
		case err = <-done:
		case <-time.After(2 * time.Second):
			t.Fatalf("round %d: Read still blocked 2s after Close", round)
		}
		for _, f := range files {
			f.Close()
		}
		if forgedSeen.Load() {
			t.Fatalf("round %d: Read returned a line of another file", round)
		}
		if !errors.Is(err, tracepipe.ErrClosed) {
			t.Fatalf("round %d: Read returned %v; want ErrClosed", round, err)
		}
		if _, err := os.Stat(tp.Instance()); !errors.Is(err, os.ErrNotExist) {
			t.Fatalf("round %d: instance %s still there after Close: %v", round, tp.Instance(), err)
		}
	}
}

// TestStaleInstancesRemoved: an instance left by a process that has exited is removed by
// the next Open that makes one; those of live processes and other tools are left alone.
func TestStaleInstancesRemoved(t *testing.T) {
	testutil.RequirePrivileged(t)
	tp := traceInstance(t) // mounts tracefs if needed
	root := filepath.Dir(tp.Instance())

	cmd := exec.Command("true")
	if err := cmd.Run(); err != nil {
		t.Fatal(err)
	}
	dead := cmd.Process.Pid
	stale := filepath.Join(root, fmt.Sprintf("bpfkit-%d-12345-1-stale", dead))
	reused := filepath.Join(root, fmt.Sprintf("bpfkit-%d-1-1-pidreused", os.Getpid())) // live PID, other start time
	other := filepath.Join(root, fmt.Sprintf("other-tool-%d", os.Getpid()))
	for _, d := range []string{stale, reused, other} {
		if err := os.Mkdir(d, 0o755); err != nil {
			t.Fatal(err)
		}
	}
	t.Cleanup(func() {
		for _, d := range []string{stale, reused, other} {
			os.Remove(d)
		}
	})
	// a stale instance a reader still holds open cannot be removed (EBUSY): Stale says so
	busy := filepath.Join(root, fmt.Sprintf("bpfkit-%d-12345-2-busy", dead))
	if err := os.Mkdir(busy, 0o755); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { os.Remove(busy) })
	held, err := os.Open(filepath.Join(busy, "trace_pipe"))
	if err != nil {
		t.Fatal(err)
	}
	tp2, err := tracepipe.Open(&tracepipe.Options{Instance: "second"})
	held.Close()
	if err != nil {
		t.Fatal(err)
	}
	defer tp2.Close()
	if err := tp2.Stale(); !errors.Is(err, unix.EBUSY) || !strings.Contains(err.Error(), filepath.Base(busy)) {
		t.Errorf("Stale() = %v, want EBUSY naming %s", err, filepath.Base(busy))
	}
	if err := tp.Stale(); err != nil {
		t.Errorf("first Pipe's Stale() = %v, want nil", err)
	}
	for _, d := range []string{stale, reused} {
		if _, err := os.Stat(d); !errors.Is(err, os.ErrNotExist) {
			t.Errorf("stale instance %s not removed: %v", filepath.Base(d), err)
		}
	}
	for _, d := range []string{other, tp.Instance(), tp2.Instance()} {
		if _, err := os.Stat(d); err != nil {
			t.Errorf("instance %s removed: %v", filepath.Base(d), err)
		}
	}
	if _, err := tracepipe.Open(&tracepipe.Options{Instance: "../x"}); err == nil {
		t.Fatal("an instance name with a path accepted")
	}
}

// FuzzParse: a trace line holds what a BPF program printed, so anything. Parse must not
// panic, must keep the line in Raw, and a parsed record's fields must come from the line.
func FuzzParse(f *testing.F) {
	for _, s := range []string{
		"     loader.test-10098   [001] ...21   609.489611: bpf_trace_printk: BPF triggered from PID 10098.",
		"  kworker/u4:2-my job-77 (     70) [000] 12.000001: bpf_trace_printk: a: b",
		"           <...>-5     [003] d.h.. 100.5: bpf_trace_printk: x",
		"CPU:1 [LOST 12 EVENTS]",
		"a-1 [0] 99999999999999999999.1: e: m",
	} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, line string) {
		r := tracepipe.Parse(line)
		if r.Raw != line {
			t.Fatalf("Raw %q, line %q", r.Raw, line)
		}
		if r.Event == "" {
			if r.Message != line || r.PID != 0 || r.Time != 0 {
				t.Fatalf("unparsed line with fields set: %+v", r)
			}
			return
		}
		if r.PID < 0 || r.CPU < 0 || r.Time < 0 || !strings.Contains(line, r.Event) || !strings.Contains(line, r.Message) {
			t.Fatalf("record %+v not from line %q", r, line)
		}
	})
}

// TestMountsTracefs: where tracefs is not mounted, Open mounts it (the library
// mounts it itself, or says exactly what to run), and with NoMount it says what
// to run. The test unmounts tracefs in a mount namespace of its own thread, so nothing
// else on the machine sees it.
func TestMountsTracefs(t *testing.T) {
	testutil.RequirePrivileged(t)
	errc := make(chan error, 1)
	go func() {
		// Never unlocked: the thread leaves with its mount namespace when this ends.
		runtime.LockOSThread()
		errc <- func() error {
			if err := unix.Unshare(unix.CLONE_NEWNS); err != nil {
				return fmt.Errorf("unshare(CLONE_NEWNS): %w", err)
			}
			if err := unix.Mount("", "/", "", unix.MS_REC|unix.MS_PRIVATE, ""); err != nil {
				return fmt.Errorf("making / private: %w", err)
			}
			for _, dir := range []string{"/sys/kernel/tracing", "/sys/kernel/debug/tracing"} {
				for unix.Unmount(dir, unix.MNT_DETACH) == nil {
				}
				if _, err := os.Stat(filepath.Join(dir, "trace_pipe")); err == nil {
					return fmt.Errorf("%s still has a trace_pipe after unmounting", dir)
				}
			}
			_, err := tracepipe.Open(&tracepipe.Options{NoMount: true})
			const how = "mount -t tracefs tracefs /sys/kernel/tracing"
			if err == nil || !strings.Contains(err.Error(), "tracefs is not mounted") || !strings.Contains(err.Error(), how) {
				return fmt.Errorf("Open with NoMount and no tracefs: %v, want an error saying to run %q", err, how)
			}
			p, err := tracepipe.Open(nil)
			if err != nil {
				return fmt.Errorf("Open without tracefs: %w", err)
			}
			if err := p.Close(); err != nil {
				return err
			}
			mounts, err := os.ReadFile("/proc/thread-self/mounts")
			if err != nil {
				return err
			}
			if !strings.Contains(string(mounts), "tracefs /sys/kernel/tracing tracefs") {
				return fmt.Errorf("Open did not mount tracefs on /sys/kernel/tracing:\n%s", mounts)
			}
			return nil
		}()
	}()
	if err := <-errc; err != nil {
		t.Fatal(err)
	}
	if _, err := os.Stat("/sys/kernel/tracing/trace_pipe"); err != nil {
		t.Fatalf("tracefs gone outside the test's mount namespace: %v", err)
	}
}
