// SPDX-License-Identifier: Apache-2.0

package main

import (
	"bufio"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/bpfkit/bpfkit/internal/testutil"
)

// TestExecsnoop runs the example for the children of this test, runs a program three
// times, and wants three lines naming it, with their PIDs and this test's as parent.
func TestExecsnoop(t *testing.T) {
	testutil.RequirePrivileged(t)
	bin := filepath.Join(t.TempDir(), "execsnoop")
	if out, err := exec.Command("go", "build", "-o", bin, ".").CombinedOutput(); err != nil {
		t.Fatalf("go build: %v\n%s", err, out)
	}
	cmd := exec.Command(bin, "-ppid", fmt.Sprint(os.Getpid()), "-duration", "20s")
	stdout, err := cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	var stderr strings.Builder
	cmd.Stderr = &stderr
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { cmd.Process.Kill(); cmd.Wait() })
	lines := bufio.NewScanner(stdout)
	if !lines.Scan() || !strings.HasPrefix(lines.Text(), "PID") {
		t.Fatalf("no header line (%q); stderr: %s", lines.Text(), stderr.String())
	}

	truePath, err := exec.LookPath("true")
	if err != nil {
		t.Fatal(err)
	}
	want := map[string]bool{}
	for range 3 {
		c := exec.Command(truePath)
		if err := c.Run(); err != nil {
			t.Fatal(err)
		}
		want[fmt.Sprint(c.Process.Pid)] = true
	}
	got := make(chan []string)
	go func() {
		for lines.Scan() {
			got <- strings.Fields(lines.Text())
		}
		close(got)
	}()
	deadline := time.After(10 * time.Second)
	for len(want) > 0 {
		select {
		case f, ok := <-got:
			if !ok {
				t.Fatalf("execsnoop ended with %d execs unseen; stderr: %s", len(want), stderr.String())
			}
			// PID PPID COMM FILENAME: the child runs execve before it is "true"
			if len(f) != 4 || f[1] != fmt.Sprint(os.Getpid()) || f[3] != truePath {
				t.Fatalf("unexpected line %q (want PPID %d, FILENAME %s)", f, os.Getpid(), truePath)
			}
			if !want[f[0]] {
				t.Fatalf("line %q names a PID this test did not start", f)
			}
			delete(want, f[0])
		case <-deadline:
			t.Fatalf("%d of 3 execs not reported in 10s; stderr: %s", len(want), stderr.String())
		}
	}
}
