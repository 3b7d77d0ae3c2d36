// SPDX-License-Identifier: Apache-2.0

package spinlock

import (
	"bytes"
	"errors"
	"log/slog"
	"strings"
	"testing"

	"github.com/cilium/ebpf"
)

// preflightRun runs p on the corpus object and returns its error and what it logged.
func preflightRun(t *testing.T, p Preflight, object string, programs map[string]ebpf.ProgramType) (string, error) {
	t.Helper()
	var logged bytes.Buffer
	log := slog.New(slog.NewTextHandler(&logged, nil))
	err := p.Run(readCorpusObject(t, object), object, programs, log)
	return logged.String(), err
}

// TestPreflightModes: what each mode does with the P1 finding of a socket filter that
// takes a lock (the kernel refuses it: "socket filter progs cannot use bpf_spin_lock
// yet"), and with a program of the same object that is not loading.
func TestPreflightModes(t *testing.T) {
	const object = "p_progtype.bpf.o"
	bad := map[string]ebpf.ProgramType{"socket_lock": ebpf.SocketFilter, "socket_plain": ebpf.SocketFilter}
	good := map[string]ebpf.ProgramType{"socket_plain": ebpf.SocketFilter}
	kernel := Version{6, 18}

	logged, err := preflightRun(t, Preflight{Kernel: kernel}, object, bad)
	var lockErr *Error
	if !errors.As(err, &lockErr) {
		t.Fatalf("Enforce: got %v, want a *spinlock.Error", err)
	}
	if len(lockErr.Findings) != 1 || lockErr.Findings[0].Rule != RuleP1 || lockErr.Findings[0].Program != "socket_lock" {
		t.Errorf("Enforce: findings %v, want exactly P1 in socket_lock", lockErr.Findings)
	}
	if logged != "" {
		t.Errorf("Enforce logged %q, want nothing", logged)
	}

	// The same object, socket_lock not loading: its finding is not the load's concern.
	if logged, err := preflightRun(t, Preflight{Kernel: kernel}, object, good); err != nil || logged != "" {
		t.Errorf("Enforce without socket_lock: %v, logged %q; want nil and nothing", err, logged)
	}

	logged, err = preflightRun(t, Preflight{Kernel: kernel, Mode: Warn}, object, bad)
	if err != nil {
		t.Errorf("Warn: %v, want nil", err)
	}
	if !strings.Contains(logged, "level=WARN") || !strings.Contains(logged, "rule=P1") || !strings.Contains(logged, "program=socket_lock") {
		t.Errorf("Warn logged %q, want the P1 finding of socket_lock as a warning", logged)
	}

	_, err = preflightRun(t, Preflight{Kernel: kernel, Mode: Strict}, object, bad)
	if !errors.As(err, &lockErr) {
		t.Errorf("Strict: got %v, want the *spinlock.Error first", err)
	}

	if logged, err := preflightRun(t, Preflight{Kernel: kernel, Mode: Off}, object, bad); err != nil || logged != "" {
		t.Errorf("Off: %v, logged %q; want nil and nothing", err, logged)
	}
}

// TestPreflightIncomplete: an object the check cannot read is left to the kernel (with
// a warning) except under Strict, and a kernel version the rules were not checked
// against is a warning, or under Strict an *IncompleteError.
func TestPreflightIncomplete(t *testing.T) {
	garbage := []byte("\x7fELF this is not an object")
	var logged bytes.Buffer
	log := slog.New(slog.NewTextHandler(&logged, nil))
	if err := (Preflight{}).Run(garbage, "garbage.o", nil, log); err != nil {
		t.Errorf("Enforce on an unreadable object: %v, want nil (the kernel judges it)", err)
	}
	if !strings.Contains(logged.String(), "could not read the object") || !strings.Contains(logged.String(), "object=garbage.o") {
		t.Errorf("Enforce on an unreadable object logged %q, want why", logged.String())
	}
	err := (Preflight{Mode: Strict}).Run(garbage, "garbage.o", nil, log)
	var inc *IncompleteError
	if !errors.As(err, &inc) || !errors.Is(err, ErrUnreadable) {
		t.Fatalf("Strict on an unreadable object: %v, want an *IncompleteError wrapping ErrUnreadable", err)
	}
	if !strings.Contains(err.Error(), "garbage.o") {
		t.Errorf("the error %q does not name the object", err)
	}

	const object = "p_progtype.bpf.o"
	good := map[string]ebpf.ProgramType{"socket_plain": ebpf.SocketFilter}
	future := Version{9, 0}
	logged2, err := preflightRun(t, Preflight{Kernel: future}, object, good)
	if err != nil || !strings.Contains(logged2, "spin-lock check incomplete") || !strings.Contains(logged2, "9.0") {
		t.Errorf("Enforce for kernel 9.0: %v, logged %q; want nil and a warning naming the version", err, logged2)
	}
	_, err = preflightRun(t, Preflight{Kernel: future, Mode: Strict}, object, good)
	if !errors.As(err, &inc) || inc.Kernel != future || len(inc.Incomplete) == 0 {
		t.Fatalf("Strict for kernel 9.0: %v, want an *IncompleteError for 9.0 with the warning", err)
	}
}

func TestModeString(t *testing.T) {
	for m, want := range map[Mode]string{Enforce: "enforce", Warn: "warn", Strict: "strict", Off: "off", Mode(9): "Mode(9)"} {
		if got := m.String(); got != want {
			t.Errorf("Mode(%d).String() = %q, want %q", int(m), got, want)
		}
	}
}
