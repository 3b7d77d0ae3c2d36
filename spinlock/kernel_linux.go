// SPDX-License-Identifier: Apache-2.0

//go:build linux

package spinlock

import (
	"fmt"

	"golang.org/x/sys/unix"
)

// RunningKernel returns the version of the kernel this process runs on, from uname(2).
func RunningKernel() (Version, error) {
	var u unix.Utsname
	if err := unix.Uname(&u); err != nil {
		return Version{}, fmt.Errorf("uname: %w", err)
	}
	return ParseVersion(unix.ByteSliceToString(u.Release[:]))
}
