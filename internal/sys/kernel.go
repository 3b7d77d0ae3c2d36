// SPDX-License-Identifier: Apache-2.0

package sys

import (
	"fmt"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"

	"golang.org/x/sys/unix"
)

// Version is a kernel version, major.minor.
type Version struct{ Major, Minor int }

func (v Version) String() string { return fmt.Sprintf("%d.%d", v.Major, v.Minor) }

// Less reports whether v is older than w.
func (v Version) Less(w Version) bool {
	return v.Major < w.Major || (v.Major == w.Major && v.Minor < w.Minor)
}

// ParseVersion reads the leading "major.minor" of a kernel release such as
// "6.18.0-12-cloud-amd64".
func ParseVersion(release string) (Version, error) {
	maj, rest, ok := strings.Cut(release, ".")
	if !ok {
		return Version{}, fmt.Errorf("kernel release %q: no minor version", release)
	}
	end := strings.IndexFunc(rest, func(r rune) bool { return r < '0' || r > '9' })
	if end < 0 {
		end = len(rest)
	}
	a, err1 := strconv.Atoi(maj)
	b, err2 := strconv.Atoi(rest[:end])
	if err1 != nil || err2 != nil || a < 0 || b < 0 {
		return Version{}, fmt.Errorf("kernel release %q is not major.minor", release)
	}
	return Version{a, b}, nil
}

var (
	unameVersion = sync.OnceValues(func() (Version, error) {
		var u unix.Utsname
		if err := unix.Uname(&u); err != nil {
			return Version{}, fmt.Errorf("uname: %w", err)
		}
		return ParseVersion(unix.ByteSliceToString(u.Release[:]))
	})
	kernelOverride atomic.Pointer[Version]
)

// RunningKernel returns the running kernel's version (uname(2)).
func RunningKernel() (Version, error) {
	if v := kernelOverride.Load(); v != nil {
		return *v, nil
	}
	return unameVersion()
}

// PretendKernel makes RunningKernel return v until the returned function is called.
// Tests use it to reach the paths of kernels older than the one they run on.
func PretendKernel(v Version) (restore func()) {
	kernelOverride.Store(&v)
	return func() { kernelOverride.Store(nil) }
}
