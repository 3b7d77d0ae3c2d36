// Package testutil holds helpers shared by bpfkit's tests.
package testutil

import (
	"os"
	"testing"

	"golang.org/x/sys/unix"
)

// RequirePrivilegedEnv is the environment variable that turns a privilege skip into a
// failure. CI sets it so that the kernel tests can never be skipped silently.
const RequirePrivilegedEnv = "BPFKIT_REQUIRE_PRIVILEGED"

// Capabilities needed to load and attach BPF programs on kernels ≥ 5.8.
const (
	capBPF      = 39
	capPerfmon  = 38
	capSysAdmin = 21
	capNetAdmin = 12
)

// RequirePrivileged skips the test when the process cannot load BPF programs (it is not
// root and lacks CAP_BPF/CAP_PERFMON/CAP_SYS_ADMIN), or fails it instead when
// BPFKIT_REQUIRE_PRIVILEGED=1.
func RequirePrivileged(tb testing.TB) {
	tb.Helper()
	missing := MissingPrivileges()
	if missing == "" {
		return
	}
	if os.Getenv(RequirePrivilegedEnv) == "1" {
		tb.Fatalf("test needs BPF privileges (%s) and %s=1 forbids skipping", missing, RequirePrivilegedEnv)
	}
	tb.Skipf("test needs BPF privileges: %s (run as root, or set %s=1 to make this a failure)", missing, RequirePrivilegedEnv)
}

// MissingPrivileges names the capabilities the process lacks to load and attach tracing
// programs, or returns "" when it has them all.
func MissingPrivileges() string {
	var hdr = unix.CapUserHeader{Version: unix.LINUX_CAPABILITY_VERSION_3}
	var data [2]unix.CapUserData
	if err := unix.Capget(&hdr, &data[0]); err != nil {
		return "capget failed: " + err.Error()
	}
	has := func(c uint) bool { return data[c/32].Effective&(1<<(c%32)) != 0 }
	if has(capSysAdmin) {
		return ""
	}
	var missing string
	for _, c := range []struct {
		n    uint
		name string
	}{{capBPF, "CAP_BPF"}, {capPerfmon, "CAP_PERFMON"}} {
		if !has(c.n) {
			if missing != "" {
				missing += ", "
			}
			missing += c.name
		}
	}
	return missing
}
