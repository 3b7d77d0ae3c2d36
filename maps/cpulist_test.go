// SPDX-License-Identifier: Apache-2.0

package maps

import "testing"

func TestParseCPUList(t *testing.T) {
	for _, c := range []struct {
		in   string
		want int
		err  bool
	}{{"0", 1, false}, {"0-1", 2, false}, {"0-3,8,10-11", 7, false}, {"", 0, true}, {"3-1", 0, true}, {"x", 0, true}} {
		got, err := parseCPUList(c.in)
		if (err != nil) != c.err || got != c.want {
			t.Errorf("parseCPUList(%q) = %d, %v", c.in, got, err)
		}
	}
	for size, want := range map[uintptr]uintptr{1: 8, 4: 8, 6: 8, 8: 8, 9: 16, 16: 16} {
		if got := perCPUStride(size); got != want {
			t.Errorf("perCPUStride(%d) = %d, want %d", size, got, want)
		}
	}
}
