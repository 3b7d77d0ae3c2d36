// SPDX-License-Identifier: Apache-2.0

//go:build !linux

package spinlock

import "errors"

// RunningKernel returns the version of the kernel this process runs on. Off Linux there
// is none: it returns an error, and Check falls back to newest.
func RunningKernel() (Version, error) {
	return Version{}, errors.New("running kernel: not linux")
}
