// SPDX-License-Identifier: Apache-2.0

package loader_test

import (
	"io"
	"os"
	"path/filepath"
	"testing"

	"github.com/bpfkit/bpfkit/internal/testutil"
	"github.com/bpfkit/bpfkit/loader"
)

// exampleOutput runs an Example function and returns what it printed. Examples that load
// programs carry no "// Output:" (go test would fail them for a user without
// privileges); their tests run them here instead, as root, and check what they print.
func exampleOutput(t *testing.T, example func()) string {
	t.Helper()
	r, w, err := os.Pipe()
	if err != nil {
		t.Fatal(err)
	}
	stdout := os.Stdout
	os.Stdout = w
	done := make(chan []byte)
	go func() {
		b, _ := io.ReadAll(r)
		done <- b
	}()
	func() {
		defer func() { os.Stdout = stdout }()
		example()
	}()
	w.Close()
	out := <-done
	r.Close()
	return string(out)
}

func TestExamplesRun(t *testing.T) {
	testutil.RequirePrivileged(t)
	t.Run("Map_SetValueSize", func(t *testing.T) {
		if got, want := exampleOutput(t, ExampleMap_SetValueSize), "1016 1024\n"; got != want {
			t.Errorf("printed %q, want %q", got, want)
		}
	})
	t.Run("Program_SetType", func(t *testing.T) {
		want := "xdp_packet_func in xdp_packet_hook: XDP\ntc_packet_func in tc_packet_hook0: SchedCLS\n"
		if got := exampleOutput(t, ExampleProgram_SetType); got != want {
			t.Errorf("printed %q, want %q", got, want)
		}
	})
	t.Run("OpenPinnedMap", func(t *testing.T) {
		// The example opens /sys/fs/bpf/shared_counts: pin it there as another loader
		// would (LIBBPF_PIN_BY_NAME under the default root) and count one call.
		pin := filepath.Join("/sys/fs/bpf", "shared_counts")
		if _, err := os.Stat(pin); err == nil {
			t.Fatalf("%s exists already: a previous run left it, or another program owns it", pin)
		}
		obj := open(t, "pinned_a.bpf.o", testObject(t, "pinned_a.bpf.o"), nil)
		t.Cleanup(func() { os.Remove(pin) })
		if err := obj.Load(); err != nil {
			t.Fatal(err)
		}
		bump, err := obj.Program("bump")
		if err != nil {
			t.Fatal(err)
		}
		if _, err := bump.Test(&loader.TestOptions{}); err != nil {
			t.Fatal(err)
		}
		if got := exampleOutput(t, ExampleOpenPinnedMap); got != "1\n" {
			t.Errorf("printed %q, want %q", got, "1\n")
		}
	})
}
