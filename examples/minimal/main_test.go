// SPDX-License-Identifier: Apache-2.0

package main

import (
	"bytes"
	"errors"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"testing"

	"github.com/bpfkit/bpfkit/internal/testutil"
)

// build compiles the example into the test's temporary directory.
func build(t *testing.T) string {
	t.Helper()
	bin := filepath.Join(t.TempDir(), "minimal")
	out, err := exec.Command("go", "build", "-o", bin, ".").CombinedOutput()
	if err != nil {
		t.Fatalf("go build: %v\n%s", err, out)
	}
	// The unprivileged run needs to reach the binary.
	if err := os.Chmod(filepath.Dir(bin), 0o755); err != nil {
		t.Fatal(err)
	}
	return bin
}

// TestExampleMinimal runs the example and looks for its program's line with the PID
// the example reports as its own.
func TestExampleMinimal(t *testing.T) {
	testutil.RequirePrivileged(t)
	bin := build(t)
	var stdout, stderr bytes.Buffer
	cmd := exec.Command(bin, "-duration", "3s")
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	if err := cmd.Run(); err != nil {
		t.Fatalf("minimal: %v\nstdout:\n%s\nstderr:\n%s", err, stdout.String(), stderr.String())
	}
	m := regexp.MustCompile(`Successfully started! PID (\d+);`).FindStringSubmatch(stdout.String())
	if m == nil {
		t.Fatalf("no start line in:\n%s", stdout.String())
	}
	if want := "BPF triggered from PID " + m[1] + "."; !strings.Contains(stdout.String(), want) {
		t.Fatalf("no %q in:\n%s", want, stdout.String())
	}
	if !strings.Contains(stdout.String(), "Detaching and exiting") {
		t.Fatalf("no clean exit in:\n%s", stdout.String())
	}
}

// TestExampleMinimalUnprivileged runs the example as nobody with no capabilities: it
// must exit non-zero, name the missing privileges, and not panic.
func TestExampleMinimalUnprivileged(t *testing.T) {
	testutil.RequirePrivileged(t) // to switch to nobody we must be root
	setpriv, err := exec.LookPath("setpriv")
	if err != nil {
		t.Fatalf("setpriv (util-linux) is needed to drop privileges: %v", err)
	}
	bin := build(t)
	cmd := exec.Command(setpriv, "--reuid=nobody", "--regid=nogroup", "--clear-groups", "--inh-caps=-all", "--bounding-set=-all", bin, "-duration", "2s")
	out, err := cmd.CombinedOutput()
	var exit *exec.ExitError
	if !errors.As(err, &exit) || exit.ExitCode() == 0 {
		t.Fatalf("unprivileged run: err %v, want a non-zero exit; output:\n%s", err, out)
	}
	if exit.ExitCode() != 1 {
		t.Errorf("exit code %d, want 1", exit.ExitCode())
	}
	for _, want := range []string{"CAP_BPF", "CAP_PERFMON", "operation not permitted"} {
		if !bytes.Contains(out, []byte(want)) {
			t.Errorf("output lacks %q:\n%s", want, out)
		}
	}
	for _, bad := range []string{"panic", "goroutine ", "SIGSEGV"} {
		if bytes.Contains(out, []byte(bad)) {
			t.Errorf("output contains %q:\n%s", bad, out)
		}
	}
}
