// SPDX-License-Identifier: Apache-2.0

package records

import (
	"context"
	"errors"
	"testing"
	"time"

	"github.com/bpfkit/bpfkit/internal/testutil"
	"github.com/bpfkit/bpfkit/loader"
	"github.com/bpfkit/bpfkit/maps"
)

// TestTypedReaders: the readers are nil until Load makes them; then the programs' events
// come out typed, from the ring buffer and from the perf buffer; Close closes them.
func TestTypedReaders(t *testing.T) {
	testutil.RequirePrivileged(t)
	s, err := Open(nil)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { s.Close() })
	if s.Maps.Events != nil || s.Maps.PerfEvents != nil {
		t.Fatal("readers made before Load")
	}
	s.Data.Nr = 5
	if err := s.Load(); err != nil {
		t.Fatal(err)
	}
	if s.Maps.Events == nil || s.Maps.PerfEvents == nil {
		t.Fatal("Load made no readers")
	}
	packet := &loader.TestOptions{Data: make([]byte, 64)}
	for _, p := range []*loader.Program{s.Programs.EmitEvents, s.Programs.EmitPerf} {
		if _, err := p.Test(packet); err != nil {
			t.Fatal(err)
		}
	}
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	for i := range uint32(5) {
		e, err := s.Maps.Events.Read(ctx)
		if err != nil {
			t.Fatal(err)
		}
		if e.Seq != i || e.Run != 0 || e.Ts == 0 {
			t.Errorf("ring buffer event %d: %+v, want seq %d of run 0 with a time", i, e, i)
		}
		sample, err := s.Maps.PerfEvents.Read(ctx)
		if err != nil {
			t.Fatal(err)
		}
		if sample.Event.Seq != i || sample.Event.Run != 1 {
			t.Errorf("perf buffer event %d: %+v, want seq %d of run 1", i, sample.Event, i)
		}
	}
	if s.BSS.Runs != 2 {
		t.Errorf("runs = %d in the live .bss, want 2", s.BSS.Runs)
	}

	rb := s.Maps.Events
	if err := s.Close(); err != nil {
		t.Fatal(err)
	}
	if _, err := rb.Read(ctx); !errors.Is(err, maps.ErrClosed) {
		t.Errorf("the ring buffer reader after the skeleton's Close: %v, want ErrClosed", err)
	}
}
