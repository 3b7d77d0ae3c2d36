// SPDX-License-Identifier: Apache-2.0

// Package caps reports which capabilities the process lacks to use BPF.
package caps

import "golang.org/x/sys/unix"

// Capability numbers from include/uapi/linux/capability.h.
const (
	SysAdmin = 21
	Perfmon  = 38
	BPF      = 39
)

// MissingForBPF names the capabilities the process lacks to load and attach tracing
// programs (CAP_BPF and CAP_PERFMON, or CAP_SYS_ADMIN which implies both), or returns
// nil when it has them. An error of capget(2) itself is reported as a missing entry.
func MissingForBPF() []string {
	hdr := unix.CapUserHeader{Version: unix.LINUX_CAPABILITY_VERSION_3}
	var data [2]unix.CapUserData
	if err := unix.Capget(&hdr, &data[0]); err != nil {
		return []string{"capget: " + err.Error()}
	}
	has := func(c uint) bool { return data[c/32].Effective&(1<<(c%32)) != 0 }
	if has(SysAdmin) {
		return nil
	}
	var missing []string
	if !has(BPF) {
		missing = append(missing, "CAP_BPF")
	}
	if !has(Perfmon) {
		missing = append(missing, "CAP_PERFMON")
	}
	return missing
}
