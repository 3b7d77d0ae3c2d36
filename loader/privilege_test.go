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
	if os.Getenv(unprivilegedChild) == "1" {
		privilegeErrorChild(t)
		return
	}
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
	cmd := exec.Command(setpriv, "--reuid=nobody", "--regid=nogroup", "--clear-groups", "--inh-caps=-all", "--bounding-set=-all",
		exe, "-test.run", "^TestPrivilegeError$", "-test.v", "-test.count=1")
	cmd.Env = append(os.Environ(), unprivilegedChild+"=1")
	cmd.Dir = dir
	out, err := cmd.CombinedOutput()
	if err != nil || !strings.Contains(string(out), "--- PASS: TestPrivilegeError") {
		t.Fatalf("the unprivileged run failed: %v\n%s", err, out)
	}
	t.Logf("as nobody, without capabilities:\n%s", out)
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
