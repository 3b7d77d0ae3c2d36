package loader_test

import (
	"context"
	"errors"
	"io"
	"log/slog"
	"testing"
	"time"

	"github.com/bpfkit/bpfkit/loader"
)

func discardLogger() *slog.Logger { return slog.New(slog.NewTextHandler(io.Discard, nil)) }

func TestParseTraceRecord(t *testing.T) {
	tests := []struct {
		line string
		want loader.TraceRecord
	}{
		{
			line: "     loader.test-10098   [001] ...21   609.489611: bpf_trace_printk: BPF triggered from PID 10098.",
			want: loader.TraceRecord{Task: "loader.test", PID: 10098, CPU: 1, Flags: "...21", Time: 609*time.Second + 489611*time.Microsecond, Event: "bpf_trace_printk", Message: "BPF triggered from PID 10098."},
		},
		{ // a comm with a dash and spaces, the tgid column, no flags
			line: "  kworker/u4:2-my job-77 (     70) [000] 12.000001: bpf_trace_printk: a: b",
			want: loader.TraceRecord{Task: "kworker/u4:2-my job", PID: 77, CPU: 0, Time: 12*time.Second + time.Microsecond, Event: "bpf_trace_printk", Message: "a: b"},
		},
		{
			line: "           <...>-5     [003] d.h.. 100.5: bpf_trace_printk: x",
			want: loader.TraceRecord{Task: "<...>", PID: 5, CPU: 3, Flags: "d.h..", Time: 100*time.Second + 500*time.Millisecond, Event: "bpf_trace_printk", Message: "x"},
		},
		{
			line: "CPU:1 [LOST 12 EVENTS]",
			want: loader.TraceRecord{Message: "CPU:1 [LOST 12 EVENTS]"},
		},
	}
	for _, tt := range tests {
		got := loader.ParseTraceRecord(tt.line)
		tt.want.Raw = tt.line
		if got != tt.want {
			t.Errorf("ParseTraceRecord(%q)\n got %+v\nwant %+v", tt.line, got, tt.want)
		}
	}
}

// TestTracePipeCancel: Read returns promptly with the context's error, and Close
// removes the instance it created.
func TestTracePipeCancel(t *testing.T) {
	tp := traceInstance(t)
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { _, err := tp.Read(ctx); done <- err }()
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
	if err := tp.Close(); err != nil {
		t.Fatalf("second Close: %v", err)
	}
	if _, err := tp.Read(context.Background()); !errors.Is(err, loader.ErrClosed) {
		t.Fatalf("Read after Close: %v", err)
	}
}
