// SPDX-License-Identifier: Apache-2.0

package loader_test

import (
	"os"
	"os/exec"
	"strings"
	"testing"
)

// TestBuildWithoutCgo: a program that imports loader, built with CGO_ENABLED=0, fails
// with a first error that says loader needs cgo and libbpf.
func TestBuildWithoutCgo(t *testing.T) {
	if testing.Short() {
		t.Skip("runs the go tool; skipped with -short")
	}
	cmd := exec.Command("go", "build", "-o", os.DevNull, "../examples/minimal")
	cmd.Env = append(os.Environ(), "CGO_ENABLED=0")
	out, err := cmd.CombinedOutput()
	if err == nil {
		t.Fatal("examples/minimal built without cgo")
	}
	lines := strings.Split(strings.TrimSpace(string(out)), "\n")
	var first string
	for _, l := range lines {
		if !strings.HasPrefix(l, "#") {
			first = l
			break
		}
	}
	if miss := missingWords(first, "nocgo.go", "needs cgo and libbpf", "CGO_ENABLED=1"); len(miss) > 0 {
		t.Fatalf("the first error %q lacks %q; the build said:\n%s", first, miss, out)
	}
}
