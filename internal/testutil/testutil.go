// SPDX-License-Identifier: Apache-2.0

// Package testutil holds helpers shared by bpfkit's tests.
package testutil

import (
	"bytes"
	"fmt"
	"os"
	"os/exec"
	"strings"
	"sync"
	"testing"

	"github.com/bpfkit/bpfkit/internal/caps"
)

// RequirePrivilegedEnv is the environment variable that turns a privilege skip into a
// failure. CI sets it so that the kernel tests can never be skipped silently.
const RequirePrivilegedEnv = "BPFKIT_REQUIRE_PRIVILEGED"

// RequirePrivileged skips the test when the process cannot load BPF programs (it lacks
// CAP_BPF and CAP_PERFMON, or CAP_SYS_ADMIN), or fails it instead when
// BPFKIT_REQUIRE_PRIVILEGED=1.
func RequirePrivileged(tb testing.TB) {
	tb.Helper()
	missing := caps.MissingForBPF()
	if len(missing) == 0 {
		return
	}
	what := strings.Join(missing, ", ")
	if os.Getenv(RequirePrivilegedEnv) == "1" {
		tb.Fatalf("test needs BPF privileges (missing %s) and %s=1 forbids skipping", what, RequirePrivilegedEnv)
	}
	tb.Skipf("test needs BPF privileges: missing %s (run as root; %s=1 makes this a failure)", what, RequirePrivilegedEnv)
}

// RequireTool skips the test when the command name is not on PATH, or fails it instead
// when BPFKIT_REQUIRE_PRIVILEGED=1: CI's make deps installs every tool the tests use.
func RequireTool(tb testing.TB, name string) {
	tb.Helper()
	if _, err := exec.LookPath(name); err == nil {
		return
	}
	if os.Getenv(RequirePrivilegedEnv) == "1" {
		tb.Fatalf("test needs %s, which is not on PATH (make deps installs it), and %s=1 forbids skipping", name, RequirePrivilegedEnv)
	}
	tb.Skipf("test needs %s (make deps installs it)", name)
}

// CountOpenFDs counts the process's open file descriptors (/proc/self/fd).
func CountOpenFDs() (int, error) {
	ents, err := os.ReadDir("/proc/self/fd")
	if err != nil {
		return 0, fmt.Errorf("counting open file descriptors: %w", err)
	}
	return len(ents), nil
}

// OpenFDs is CountOpenFDs for a test, which fails when they cannot be counted.
func OpenFDs(tb testing.TB) int {
	tb.Helper()
	n, err := CountOpenFDs()
	if err != nil {
		tb.Fatal(err)
	}
	return n
}

// SyncBuffer is a bytes.Buffer that a test and the goroutines logging into it (a
// finalizer's leak report, a cleanup) may use at once.
type SyncBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (s *SyncBuffer) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.Write(p)
}

func (s *SyncBuffer) String() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.String()
}
