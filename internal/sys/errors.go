// SPDX-License-Identifier: Apache-2.0

package sys

import (
	"errors"
	"fmt"

	"golang.org/x/sys/unix"
)

var (
	// ErrClosed is returned by every handle whose owner has been closed; loader and maps
	// export it as their ErrClosed, so errors.Is agrees across packages.
	ErrClosed = errors.New("use of closed bpfkit object")
	// ErrNotSupported is wrapped by errors for what the running kernel cannot do; the
	// message names the kernel the feature needs.
	ErrNotSupported = errors.New("not supported by this kernel")
)

// ENOTSUPP is the kernel-internal "operation not supported" (524) that bpf(2) leaks to
// user space, next to the standard EOPNOTSUPP.
const ENOTSUPP = unix.Errno(524)

// refusal reports whether errno is how an older kernel refuses what it does not know:
// an unknown command, attach type, flag or attr field.
func refusal(errno unix.Errno) bool {
	switch errno {
	case unix.EINVAL, unix.EOPNOTSUPP, ENOTSUPP, unix.E2BIG, unix.ENOSYS:
		return true
	}
	return false
}

// NotSupported turns errno, the kernel's answer to op, into an error wrapping
// ErrNotSupported and naming the minimum kernel when the running kernel is older than
// min and errno is the way old kernels refuse. Otherwise it returns nil: the errno is
// the kernel's real answer and the caller reports it as such. The returned error wraps
// errno too.
func NotSupported(op string, min Version, errno unix.Errno) error {
	if !refusal(errno) {
		return nil
	}
	running, err := RunningKernel()
	if err != nil || !running.Less(min) {
		return nil
	}
	return fmt.Errorf("%s needs Linux %s or later, this is %s: %w (%w)", op, min, running, ErrNotSupported, errno)
}
