// SPDX-License-Identifier: Apache-2.0

package gen_test

import (
	"bytes"
	"debug/elf"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/bpfkit/bpfkit/internal/gen"
)

func TestGoName(t *testing.T) {
	for c, want := range map[string]string{
		"my_pid":            "MyPid",
		"rx_bytes_total":    "RxBytesTotal",
		"tcpState":          "TcpState",
		"STATE_IDLE":        "StateIdle",
		"__u32":             "U32",
		"handle_tp.____fmt": "HandleTpFmt",
		"_1st":              "X1st",
		"2":                 "X2",
		"___":               "X",
		"HTTPCode":          "HTTPCode",
	} {
		if got := gen.GoName(c); got != want {
			t.Errorf("GoName(%q) = %q, want %q", c, got, want)
		}
	}
}

func TestStem(t *testing.T) {
	for path, want := range map[string]string{"bpf/minimal.bpf.o": "minimal", "x.o": "x", "/a/b/c.bpf.o": "c"} {
		if got := gen.Stem(path); got != want {
			t.Errorf("Stem(%q) = %q, want %q", path, got, want)
		}
	}
}

func readFile(t *testing.T, path string) []byte {
	t.Helper()
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	return b
}

// TestGolden compares the generator's output with the committed skeletons, which are
// the golden files: internal/gen/tricky (every tricky layout of tricky.h; its own tests
// check it against the kernel), examples/skeleton/minimal and internal/gen/records
// (typed ring and perf buffer readers, also checked against the kernel). `go generate ./...`
// rewrites them; review the diff.
func TestGolden(t *testing.T) {
	for _, c := range []struct {
		object, golden string
		opts           gen.Options
	}{
		{"../../bpf/testdata/gen/tricky.bpf.o", "tricky/tricky.skel.go", gen.Options{Package: "tricky", Types: []string{"with_flex"}}},
		{"../../bpf/minimal.bpf.o", "../../examples/skeleton/minimal/minimal.skel.go", gen.Options{Package: "minimal"}},
		{"../../bpf/testdata/realworld/events.bpf.o", "records/records.skel.go", gen.Options{Package: "records", Records: map[string]string{"events": "event", "perf_events": "event"}}},
	} {
		t.Run(filepath.Base(c.golden), func(t *testing.T) {
			c.opts.Object = readFile(t, c.object)
			c.opts.ObjectFile = filepath.Base(c.object)
			got, err := gen.Generate(c.opts)
			if err != nil {
				t.Fatal(err)
			}
			want := readFile(t, c.golden)
			if !bytes.Equal(got, want) {
				t.Errorf("generated code differs from %s (run `go generate ./...` and review the diff):\n%s", c.golden, firstDiff(string(want), string(got)))
			}
			again, err := gen.Generate(c.opts)
			if err != nil || !bytes.Equal(again, got) {
				t.Errorf("a second run gave different bytes (err %v)", err)
			}
		})
	}
}

func firstDiff(want, got string) string {
	w, g := strings.Split(want, "\n"), strings.Split(got, "\n")
	for i := 0; i < max(len(w), len(g)); i++ {
		var wl, gl string
		if i < len(w) {
			wl = w[i]
		}
		if i < len(g) {
			gl = g[i]
		}
		if wl != gl {
			return fmt.Sprintf("line %d:\n  golden:    %q\n  generated: %q", i+1, wl, gl)
		}
	}
	return "(no line differs)"
}

// withoutBTF renames the object's .BTF section, as if it had been compiled without -g.
func withoutBTF(t *testing.T, obj []byte) []byte {
	t.Helper()
	out := bytes.ReplaceAll(obj, []byte(".BTF\x00"), []byte(".XTF\x00"))
	f, err := elf.NewFile(bytes.NewReader(out))
	if err != nil || f.Section(".BTF") != nil {
		t.Fatalf("could not hide .BTF: %v", err)
	}
	return out
}

func TestErrors(t *testing.T) {
	minimal := readFile(t, "../../bpf/minimal.bpf.o")
	self, err := os.Executable()
	if err != nil {
		t.Fatal(err)
	}
	notBPF := readFile(t, self)
	events := readFile(t, "../../bpf/testdata/realworld/events.bpf.o")
	stacks := readFile(t, "../../bpf/testdata/realworld/stacks.bpf.o")
	for _, c := range []struct {
		name  string
		opts  gen.Options
		words []string
	}{
		{"not ELF", gen.Options{Package: "p", ObjectFile: "x.bpf.o", Object: []byte("hello")}, []string{"x.bpf.o", "not an ELF file"}},
		{"not BPF", gen.Options{Package: "p", ObjectFile: "x.bpf.o", Object: notBPF}, []string{"not a BPF object", "clang -target bpf"}},
		{"no BTF", gen.Options{Package: "p", ObjectFile: "m.bpf.o", Object: withoutBTF(t, minimal)}, []string{"no BTF", "clang -g"}},
		{"bad package", gen.Options{Package: "my-pkg", ObjectFile: "m.bpf.o", Object: minimal}, []string{`"my-pkg"`, "not a Go identifier"}},
		{"blank package", gen.Options{Package: "_", ObjectFile: "m.bpf.o", Object: minimal}, []string{`"_"`, "not a Go identifier"}},
		{"keyword package", gen.Options{Package: "func", ObjectFile: "m.bpf.o", Object: minimal}, []string{`"func"`, "not a Go identifier"}},
		{"object name with a newline", gen.Options{Package: "p", ObjectFile: "m\n.bpf.o", Object: minimal}, []string{`"m\n.bpf.o"`, "letters, digits and . _ + - only"}},
		{"object name with a quote", gen.Options{Package: "p", ObjectFile: "m\".bpf.o", Object: minimal}, []string{"letters, digits and . _ + - only"}},
		{"object in a directory", gen.Options{Package: "p", ObjectFile: "bpf/m.bpf.o", Object: minimal}, []string{"bare file name"}},
		{"unknown type", gen.Options{Package: "p", ObjectFile: "m.bpf.o", Object: minimal, Types: []string{"nosuch"}}, []string{"-type nosuch", "no type of that name", "struct nosuch *unused_nosuch __attribute__((unused));", "__type(value, struct nosuch)"}},
		{"type that is not one", gen.Options{Package: "p", ObjectFile: "m.bpf.o", Object: minimal, Types: []string{"handle_tp"}}, []string{"-type handle_tp", "not a struct, union, enum or typedef"}},
		{"record type only used through a pointer", gen.Options{Package: "p", ObjectFile: "e.bpf.o", Object: events, Records: map[string]string{"msgs": "msg_hdr"}},
			[]string{"-type msg_hdr", "no type of that name", "only reaches through a pointer", "struct msg_hdr *unused_msg_hdr __attribute__((unused));"}},
		{"record of a hash map", gen.Options{Package: "p", ObjectFile: "e.bpf.o", Object: stacks, Records: map[string]string{"counts": "int"}},
			[]string{"-type counts=int", "map counts is a Hash, not a ring buffer or a perf event array"}},
		{"record of no map", gen.Options{Package: "p", ObjectFile: "e.bpf.o", Object: events, Records: map[string]string{"evnts": "event"}},
			[]string{"-type evnts=event", "no map evnts", "perf event arrays: events, msgs, perf_events"}},
	} {
		t.Run(c.name, func(t *testing.T) {
			out, err := gen.Generate(c.opts)
			if err == nil {
				t.Fatalf("no error; generated %d bytes", len(out))
			}
			for _, w := range c.words {
				if !strings.Contains(err.Error(), w) {
					t.Errorf("error %q lacks %q", err, w)
				}
			}
		})
	}
}

// TestRecords: a ring buffer and a perf event array given a record type become typed
// readers that Load makes; .rodata is reached through a getter and a setter.
func TestRecords(t *testing.T) {
	src, err := gen.Generate(gen.Options{Package: "events", ObjectFile: "events.bpf.o",
		Object: readFile(t, "../../bpf/testdata/realworld/events.bpf.o"), Records: map[string]string{"events": "event", "perf_events": "event"}})
	if err != nil {
		t.Fatal(err)
	}
	for _, want := range []string{
		"Events     *maps.RingBuf[Event] // events: RingBuf of event records, made by Load (nil before)",
		"PerfEvents *maps.PerfBuf[Event] // perf_events: PerfEventArray of event records, made by Load (nil before)",
		"Msgs       *loader.Map          // msgs: a ring buffer: give its record type (bpfkit gen -type msgs=TYPE)",
		"} else if s.Maps.Events, err = maps.NewRingBuf[Event](m); err != nil {",
		"} else if s.Maps.PerfEvents, err = maps.NewPerfBuf[Event](m, 0); err != nil {",
		"type Event struct {",
	} {
		if !strings.Contains(string(src), want) {
			t.Errorf("the skeleton lacks %q:\n%s", want, src)
		}
	}
	// the readers are made after the object's Load, not at Open
	load, open := strings.Index(string(src), ") Load() error {"), strings.Index(string(src), ") open() error {")
	if ring := strings.Index(string(src), "maps.NewRingBuf[Event](m)"); ring < load || open > load {
		t.Errorf("NewRingBuf at %d, open at %d, Load at %d: the reader is not made by Load", ring, open, load)
	}
}
