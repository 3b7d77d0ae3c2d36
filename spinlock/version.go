// SPDX-License-Identifier: Apache-2.0

package spinlock

import (
	"fmt"
	"strconv"
	"strings"
)

// Version is a kernel version, major and minor ("6.18"). The patch level does not change
// any rule and is not kept.
type Version struct {
	Major, Minor int
}

// The kernel versions the rules were checked against: loaded into Debian's 6.1 and 6.12
// kernels (make test-kernels) and this project's 6.18 machines, and read from the
// kernel's sources between them. newest is used when the running kernel cannot be
// determined; a version outside [oldest, newest] gets a warning finding.
var (
	oldest = Version{Major: 6, Minor: 1}
	newest = Version{Major: 6, Minor: 18}
)

// ParseVersion parses "6.18", "v6.18", "6.18.3" or a uname release such as
// "6.18.0-1-amd64" into a Version.
func ParseVersion(s string) (Version, error) {
	t := strings.TrimPrefix(strings.TrimSpace(s), "v")
	// Cut at the first character that is neither a digit nor a dot.
	if i := strings.IndexFunc(t, func(r rune) bool { return (r < '0' || r > '9') && r != '.' }); i >= 0 {
		t = t[:i]
	}
	parts := strings.Split(t, ".")
	if len(parts) < 2 || parts[0] == "" || parts[1] == "" {
		return Version{}, fmt.Errorf("parse kernel version %q: want MAJOR.MINOR such as 6.18", s)
	}
	major, err := strconv.Atoi(parts[0])
	if err != nil || major <= 0 || major > 1000 {
		return Version{}, fmt.Errorf("parse kernel version %q: bad major number", s)
	}
	minor, err := strconv.Atoi(parts[1])
	if err != nil || minor < 0 || minor > 1000 {
		return Version{}, fmt.Errorf("parse kernel version %q: bad minor number", s)
	}
	return Version{Major: major, Minor: minor}, nil
}

// String returns "MAJOR.MINOR", or "" for the zero Version.
func (v Version) String() string {
	if v.IsZero() {
		return ""
	}
	return strconv.Itoa(v.Major) + "." + strconv.Itoa(v.Minor)
}

// IsZero reports whether v is the zero Version, which Options read as "the running kernel".
func (v Version) IsZero() bool { return v == Version{} }

// AtLeast reports whether v is major.minor or newer.
func (v Version) AtLeast(major, minor int) bool {
	return v.Major > major || (v.Major == major && v.Minor >= minor)
}

// Before reports whether v is older than major.minor.
func (v Version) Before(major, minor int) bool { return !v.AtLeast(major, minor) }

// MarshalText encodes v as "MAJOR.MINOR".
func (v Version) MarshalText() ([]byte, error) { return []byte(v.String()), nil }

// UnmarshalText parses "MAJOR.MINOR" (see ParseVersion).
func (v *Version) UnmarshalText(b []byte) error {
	p, err := ParseVersion(string(b))
	if err != nil {
		return err
	}
	*v = p
	return nil
}
