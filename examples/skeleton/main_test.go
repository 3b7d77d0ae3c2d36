// SPDX-License-Identifier: Apache-2.0

package main

import (
	"bytes"
	"context"
	"fmt"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/bpfkit/bpfkit/internal/testutil"
	"github.com/bpfkit/bpfkit/loader/tracepipe"
)

// TestExampleSkeleton runs the example, which prints nothing from the kernel itself (like
// minimal.c, it leaves that to `cat trace_pipe`), and reads the trace pipe meanwhile: the
// program's bpf_printk line must name the example's PID.
func TestExampleSkeleton(t *testing.T) {
	testutil.RequirePrivileged(t)
	bin := filepath.Join(t.TempDir(), "skeleton")
	if out, err := exec.Command("go", "build", "-o", bin, ".").CombinedOutput(); err != nil {
		t.Fatalf("go build: %v\n%s", err, out)
	}
	// a private tracefs instance: its own copy of every bpf_printk line
	pipe, err := tracepipe.Open(&tracepipe.Options{Instance: "skeleton-test"})
	if err != nil {
		t.Fatal(err)
	}
	defer pipe.Close()

	var stdout, stderr bytes.Buffer
	cmd := exec.Command(bin, "-duration", "3s")
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	want := fmt.Sprintf("BPF triggered from PID %d.", cmd.Process.Pid)
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	var seen *tracepipe.Record
	for seen == nil {
		rec, err := pipe.Read(ctx)
		if err != nil {
			t.Errorf("no %q in the trace pipe: %v", want, err)
			break
		}
		if rec.Event == "bpf_trace_printk" && rec.Message == want {
			seen = &rec
		}
	}
	if err := cmd.Wait(); err != nil {
		t.Fatalf("skeleton: %v\nstdout:\n%s\nstderr:\n%s", err, stdout.String(), stderr.String())
	}
	m := regexp.MustCompile(`Successfully started! .* \(PID (\d+)\)\.`).FindStringSubmatch(stdout.String())
	if m == nil || m[1] != fmt.Sprint(cmd.Process.Pid) {
		t.Fatalf("no start line with PID %d in:\n%s", cmd.Process.Pid, stdout.String())
	}
	if !strings.Contains(stderr.String(), "...") {
		t.Errorf("no dots (the writes that fire the program) on stderr: %q", stderr.String())
	}
	if seen != nil {
		t.Logf("trace record: %s", seen.Raw)
	}
}
