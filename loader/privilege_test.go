// SPDX-License-Identifier: Apache-2.0

package loader_test

import (
	"errors"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"syscall"
	"testing"

	"github.com/bpfkit/bpfkit/bpf"
	"github.com/bpfkit/bpfkit/internal/caps"
	"github.com/bpfkit/bpfkit/internal/testutil"
	"github.com/bpfkit/bpfkit/loader"
)

// unprivilegedChild is set in the environment of the copy of the test binary that
// TestPrivilegeError runs without privileges.
const unprivilegedChild = "BPFKIT_TEST_UNPRIVILEGED_CHILD"

// TestPrivilegeError: without privileges, Load fails with a *PrivilegeError that names
// the capabilities the process lacks and unwraps to EPERM (README, DESIGN: "a clear
// error that says what is missing, not a bare EPERM"). The test runs itself again as
// nobody, with every capability dropped.
func TestPrivilegeError(t *testing.T) {
	if os.Getenv(unprivilegedChild) == "none" {
		privilegeErrorChild(t)
		return
	}
	out := runAsNobody(t, "TestPrivilegeError", "none")
	if !strings.Contains(out, "--- PASS: TestPrivilegeError") {
		t.Fatalf("the run as nobody did not pass:\n%s", out)
	}
}

// TestCapabilitiesSuffice: CAP_BPF and CAP_PERFMON, without root, are enough to load
// (README: "Loading programs needs root, or CAP_BPF and CAP_PERFMON"). Attaching the
// tracepoint needs more, read access to tracefs, and must say so.
func TestCapabilitiesSuffice(t *testing.T) {
	if os.Getenv(unprivilegedChild) == "bpf,perfmon" {
		capabilitiesChild(t)
		return
	}
	out := runAsNobody(t, "TestCapabilitiesSuffice", "bpf,perfmon")
	if !strings.Contains(out, "--- PASS: TestCapabilitiesSuffice") {
		t.Fatalf("the run as nobody with CAP_BPF and CAP_PERFMON did not pass:\n%s", out)
	}
}

// runAsNobody runs the test named test in a copy of this test binary as nobody, with
// only the capabilities caps ("none", or setpriv's names joined by commas), and returns
// its output. The copy's environment has unprivilegedChild=caps.
func runAsNobody(t *testing.T, test, caps string) string {
	t.Helper()
	testutil.RequirePrivileged(t) // to switch to nobody we must be root
	setpriv, err := exec.LookPath("setpriv")
	if err != nil {
		t.Fatalf("setpriv (util-linux) is needed to drop privileges: %v", err)
	}
	// A copy of the test binary that nobody may run (go test's own is in a directory
	// only root can enter).
	self, err := os.ReadFile("/proc/self/exe")
	if err != nil {
		t.Fatal(err)
	}
	dir := t.TempDir()
	exe := filepath.Join(dir, "loader.test")
	if err := os.WriteFile(exe, self, 0o755); err != nil {
		t.Fatal(err)
	}
	for d := dir; d != os.TempDir() && d != "/"; d = filepath.Dir(d) {
		if err := os.Chmod(d, 0o755); err != nil {
			t.Fatal(err)
		}
	}
	keep := ""
	if caps != "none" {
		keep = ",+" + strings.ReplaceAll(caps, ",", ",+")
	}
	cmd := exec.Command(setpriv, "--reuid=nobody", "--regid=nogroup", "--clear-groups",
		"--inh-caps=-all"+keep, "--bounding-set=-all"+keep, "--ambient-caps=-all"+keep,
		exe, "-test.run", "^"+test+"$", "-test.v", "-test.count=1")
	cmd.Env = append(os.Environ(), unprivilegedChild+"="+caps)
	cmd.Dir = dir
	out, err := cmd.CombinedOutput()
	if err != nil {
		t.Fatalf("%s as nobody with capabilities %q: %v\n%s", test, caps, err, out)
	}
	t.Logf("as nobody, with capabilities %q:\n%s", caps, out)
	return string(out)
}

func privilegeErrorChild(t *testing.T) {
	missing := []string{"CAP_BPF", "CAP_PERFMON"}
	obj, err := loader.OpenBytes("minimal.bpf.o", bpf.Minimal, nil)
	if err != nil {
		t.Fatalf("opening needs no privileges: %v", err)
	}
	defer obj.Close()
	err = obj.Load()
	var pe *loader.PrivilegeError
	if !errors.As(err, &pe) {
		t.Fatalf("Load = %v (%T), want a *loader.PrivilegeError", err, err)
	}
	if !errors.Is(err, syscall.EPERM) || !slices.Equal(pe.Missing, missing) {
		t.Fatalf("PrivilegeError %+v: want EPERM and Missing %v", pe, missing)
	}
	if miss := missingWords(err.Error(), "minimal.bpf.o", "CAP_BPF", "CAP_PERFMON", "run as root"); len(miss) > 0 {
		t.Fatalf("error %q lacks %q", err, miss)
	}
	t.Logf("Load: %v", err)
}

func capabilitiesChild(t *testing.T) {
	if os.Geteuid() == 0 {
		t.Fatal("running as root")
	}
	if missing := caps.MissingForBPF(); len(missing) > 0 {
		t.Fatalf("missing %v", missing)
	}
	obj, err := loader.OpenBytes("minimal.bpf.o", bpf.Minimal, nil)
	if err != nil {
		t.Fatal(err)
	}
	defer obj.Close()
	if err := obj.SetGlobal("my_pid", int32(os.Getpid())); err != nil {
		t.Fatal(err)
	}
	if err := obj.Load(); err != nil {
		t.Fatalf("Load with CAP_BPF and CAP_PERFMON: %v", err)
	}
	// libbpf reads the tracepoint's ID from tracefs, which only root may enter here
	// (/sys/kernel/tracing is 0700): the error must say that is what is missing.
	if err := obj.Attach(); err != nil {
		if !strings.Contains(err.Error(), "tracefs") || !strings.Contains(err.Error(), "run as root") || !errors.Is(err, syscall.EACCES) && !errors.Is(err, syscall.EPERM) {
			t.Fatalf("Attach of a tracepoint without read access to tracefs: %v; want an error naming tracefs and what to grant, wrapping EACCES or EPERM", err)
		}
		t.Logf("Attach: %v", err)
		return
	}
	if n := len(obj.Links()); n != 1 {
		t.Fatalf("%d links, want 1", n)
	}
	t.Logf("uid %d: loaded and attached with CAP_BPF and CAP_PERFMON", os.Getuid())
}
