// SPDX-License-Identifier: Apache-2.0

package sys

import (
	"errors"
	"strings"
	"testing"

	"golang.org/x/sys/unix"
)

func TestParseVersion(t *testing.T) {
	for _, tt := range []struct {
		in   string
		want Version
		ok   bool
	}{
		{"6.18.0-12-cloud-amd64", Version{6, 18}, true},
		{"5.4.0", Version{5, 4}, true},
		{"6.1", Version{6, 1}, true},
		{"6.12-rc3", Version{6, 12}, true},
		{"6", Version{}, false},
		{"x.1", Version{}, false},
		{"6.x", Version{}, false},
	} {
		got, err := ParseVersion(tt.in)
		if (err == nil) != tt.ok || got != tt.want {
			t.Errorf("ParseVersion(%q) = %v, %v", tt.in, got, err)
		}
	}
	if !(Version{5, 15}).Less(Version{6, 1}) || (Version{6, 1}).Less(Version{6, 1}) || !(Version{6, 1}).Less(Version{6, 2}) {
		t.Fatal("Less")
	}
}

func TestNotSupported(t *testing.T) {
	defer PretendKernel(Version{5, 4})()
	err := NotSupported("batch lookup", Version{5, 6}, unix.EINVAL)
	if !errors.Is(err, ErrNotSupported) || !errors.Is(err, unix.EINVAL) || !strings.Contains(err.Error(), "needs Linux 5.6 or later, this is 5.4") {
		t.Fatalf("old kernel: %v", err)
	}
	if err := NotSupported("batch lookup", Version{5, 6}, unix.ENOENT); err != nil {
		t.Fatalf("ENOENT is an answer, not a refusal: %v", err)
	}
	if err := NotSupported("batch lookup", Version{5, 4}, unix.EINVAL); err != nil {
		t.Fatalf("a kernel new enough: %v", err)
	}
}
