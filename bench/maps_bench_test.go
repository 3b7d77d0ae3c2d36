// SPDX-License-Identifier: Apache-2.0

package bench

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"unsafe"

	"github.com/aquasecurity/libbpfgo"
	"github.com/cilium/ebpf"
	"github.com/cilium/ebpf/ringbuf"
	"golang.org/x/sys/unix"

	"github.com/bpfkit/bpfkit/internal/testutil"
	"github.com/bpfkit/bpfkit/loader"
	"github.com/bpfkit/bpfkit/maps"
)

// val16 is struct val16 of bpf/testdata/maps/bench.bpf.c.
type val16 struct{ A, B uint64 }

// event is struct event: 64 bytes.
type event struct {
	Seq uint64
	Pad [56]byte
}

const (
	bigEntries  = 100_000
	batchSize   = 10_000
	eventSize   = 64 + 8 // record and header
	fillRepeat  = 48     // runs of the fill program per fill: 196,608 events, 14 MB of the 16 MiB ring
	perFillRuns = 4096   // events per run (events_per_run in .data)
)

// env is the object and maps every benchmark shares, loaded once.
type env struct {
	obj                  *loader.Object
	small, big, events   *loader.Map
	fill                 *loader.Program
	cbench               string // path of the built C program
	smallFD, bigFD, rbFD int
}

var (
	envOnce sync.Once
	shared  *env
	envErr  error
	tmpDir  string
)

func TestMain(m *testing.M) {
	code := m.Run()
	if shared != nil {
		shared.obj.Close()
	}
	if tmpDir != "" {
		os.RemoveAll(tmpDir)
	}
	os.Exit(code)
}

func setup(b *testing.B) *env {
	b.Helper()
	testutil.RequirePrivileged(b)
	envOnce.Do(func() { shared, envErr = load() })
	if envErr != nil {
		b.Fatal(envErr)
	}
	return shared
}

func load() (*env, error) {
	var err error
	if tmpDir, err = os.MkdirTemp("", "bpfkit-bench"); err != nil {
		return nil, err
	}
	e := &env{cbench: filepath.Join(tmpDir, "mapbench")}
	// Build the C baseline with the same libbpf the loader links.
	flags, err := exec.Command("pkg-config", "--cflags", "--libs", "libbpf").Output()
	if err != nil {
		return nil, fmt.Errorf("pkg-config libbpf: %w", err)
	}
	args := append([]string{"-O2", "-Wall", "-Werror", "-o", e.cbench, filepath.Join("cbench", "mapbench.c")}, strings.Fields(string(flags))...)
	if out, err := exec.Command("gcc", args...).CombinedOutput(); err != nil {
		return nil, fmt.Errorf("building cbench/mapbench.c: %v\n%s", err, out)
	}

	elf, err := os.ReadFile(filepath.Join("..", "bpf", "testdata", "maps", "bench.bpf.o"))
	if err != nil {
		return nil, err
	}
	if e.obj, err = loader.OpenBytes("bench.bpf.o", elf, nil); err != nil {
		return nil, err
	}
	if err := e.obj.Load(); err != nil {
		e.obj.Close()
		return nil, err
	}
	for _, p := range []struct {
		name string
		m    **loader.Map
		fd   *int
	}{{"small", &e.small, &e.smallFD}, {"big", &e.big, &e.bigFD}, {"events", &e.events, &e.rbFD}} {
		if *p.m, err = e.obj.Map(p.name); err != nil {
			return nil, err
		}
		if *p.fd, err = (*p.m).FD(); err != nil {
			return nil, err
		}
	}
	if e.fill, err = e.obj.Program("fill"); err != nil {
		return nil, err
	}
	data, err := e.obj.Map(".data")
	if err != nil {
		return nil, err
	}
	perRun, err := maps.NewArray[uint32](data)
	if err != nil {
		return nil, err
	}
	if err := perRun.Update(0, perFillRuns, maps.UpdateAny); err != nil {
		return nil, err
	}
	small, err := maps.NewHash[uint32, val16](e.small)
	if err != nil {
		return nil, err
	}
	if err := small.Update(1, val16{1, 2}, maps.UpdateAny); err != nil {
		return nil, err
	}
	big, err := maps.NewHash[uint32, val16](e.big)
	if err != nil {
		return nil, err
	}
	keys, vals := make([]uint32, bigEntries), make([]val16, bigEntries)
	for i := range keys {
		keys[i], vals[i] = uint32(i), val16{uint64(i), uint64(i) * 2}
	}
	if n, err := big.BatchUpdate(keys, vals); err != nil || n != bigEntries {
		return nil, fmt.Errorf("filling big: %d, %w", n, err)
	}
	return e, nil
}

// runC runs the C baseline with the given maps/programs as inherited descriptors 3, 4 …
// and returns the ns per operation it measured.
func runC(b *testing.B, e *env, mode string, fds []int, args ...string) float64 {
	b.Helper()
	var files []*os.File
	cargs := []string{mode}
	for i, fd := range fds {
		dup, err := unix.FcntlInt(uintptr(fd), unix.F_DUPFD_CLOEXEC, 3)
		if err != nil {
			b.Fatal(err)
		}
		f := os.NewFile(uintptr(dup), "fd")
		defer f.Close()
		files = append(files, f)
		cargs = append(cargs, strconv.Itoa(3+i))
	}
	cmd := exec.Command(e.cbench, append(cargs, args...)...)
	cmd.ExtraFiles = files
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	b.ResetTimer()
	out, err := cmd.Output()
	b.StopTimer()
	if err != nil {
		b.Fatalf("mapbench %v: %v: %s", cargs, err, stderr.String())
	}
	f := strings.Fields(string(out))
	ns, err := strconv.ParseFloat(f[0], 64)
	if err != nil {
		b.Fatalf("mapbench output %q", out)
	}
	return ns
}

func ciliumMap(b *testing.B, fd int) *ebpf.Map {
	b.Helper()
	dup, err := unix.FcntlInt(uintptr(fd), unix.F_DUPFD_CLOEXEC, 3)
	if err != nil {
		b.Fatal(err)
	}
	m, err := ebpf.NewMapFromFD(dup)
	if err != nil {
		b.Fatal(err)
	}
	b.Cleanup(func() { m.Close() })
	return m
}

func libbpfgoMap(b *testing.B, fd int) *libbpfgo.BPFMapLow {
	b.Helper()
	fm, err := maps.FromFD(fd)
	if err != nil {
		b.Fatal(err)
	}
	defer fm.Close()
	id, err := fm.ID()
	if err != nil {
		b.Fatal(err)
	}
	m, err := libbpfgo.GetMapByID(id)
	if err != nil {
		b.Fatal(err)
	}
	b.Cleanup(func() { syscall.Close(m.FileDescriptor()) })
	return m
}

func BenchmarkLookup(b *testing.B) {
	e := setup(b)
	h, err := maps.NewHash[uint32, val16](e.small)
	if err != nil {
		b.Fatal(err)
	}
	b.Run("C-libbpf", func(b *testing.B) {
		b.ReportMetric(runC(b, e, "lookup", []int{e.smallFD}, strconv.Itoa(b.N)), "ns/op")
	})
	b.Run("bpfkit-Lookup", func(b *testing.B) {
		b.ReportAllocs()
		for b.Loop() {
			if _, err := h.Lookup(1); err != nil {
				b.Fatal(err)
			}
		}
	})
	b.Run("bpfkit-LookupInto", func(b *testing.B) {
		b.ReportAllocs()
		var v val16
		for b.Loop() {
			if err := h.LookupInto(1, &v); err != nil {
				b.Fatal(err)
			}
		}
	})
	b.Run("cilium-ebpf", func(b *testing.B) {
		m := ciliumMap(b, e.smallFD)
		b.ReportAllocs()
		key, v := uint32(1), val16{}
		for b.Loop() {
			if err := m.Lookup(&key, &v); err != nil {
				b.Fatal(err)
			}
		}
	})
	b.Run("libbpfgo", func(b *testing.B) {
		m := libbpfgoMap(b, e.smallFD)
		b.ReportAllocs()
		key := uint32(1)
		for b.Loop() {
			if _, err := m.GetValue(unsafe.Pointer(&key)); err != nil {
				b.Fatal(err)
			}
		}
	})
}

func BenchmarkUpdate(b *testing.B) {
	e := setup(b)
	h, err := maps.NewHash[uint32, val16](e.small)
	if err != nil {
		b.Fatal(err)
	}
	b.Run("C-libbpf", func(b *testing.B) {
		b.ReportMetric(runC(b, e, "update", []int{e.smallFD}, strconv.Itoa(b.N)), "ns/op")
	})
	b.Run("bpfkit", func(b *testing.B) {
		b.ReportAllocs()
		v := val16{1, 2}
		for b.Loop() {
			if err := h.Update(1, v, maps.UpdateAny); err != nil {
				b.Fatal(err)
			}
		}
	})
	b.Run("cilium-ebpf", func(b *testing.B) {
		m := ciliumMap(b, e.smallFD)
		b.ReportAllocs()
		key, v := uint32(1), val16{1, 2}
		for b.Loop() {
			if err := m.Update(&key, &v, ebpf.UpdateAny); err != nil {
				b.Fatal(err)
			}
		}
	})
	b.Run("libbpfgo", func(b *testing.B) {
		m := libbpfgoMap(b, e.smallFD)
		b.ReportAllocs()
		key, v := uint32(1), val16{1, 2}
		for b.Loop() {
			if err := m.Update(unsafe.Pointer(&key), unsafe.Pointer(&v)); err != nil {
				b.Fatal(err)
			}
		}
	})
}

// BenchmarkBatchLookup100k walks the 100,000-entry hash in batches of 10,000; one op is
// one walk, ns/entry is the figure to compare.
func BenchmarkBatchLookup100k(b *testing.B) {
	e := setup(b)
	h, err := maps.NewHash[uint32, val16](e.big)
	if err != nil {
		b.Fatal(err)
	}
	perEntry := func(b *testing.B, entries int) {
		if entries != b.N*bigEntries {
			b.Fatalf("walked %d entries in %d walks", entries, b.N)
		}
		b.ReportMetric(float64(b.Elapsed().Nanoseconds())/float64(entries), "ns/entry")
	}
	b.Run("C-libbpf", func(b *testing.B) {
		ns := runC(b, e, "batch", []int{e.bigFD}, strconv.Itoa(batchSize), strconv.Itoa(b.N))
		b.ReportMetric(ns, "ns/entry")
		b.ReportMetric(ns*bigEntries, "ns/op")
	})
	b.Run("bpfkit", func(b *testing.B) {
		b.ReportAllocs()
		keys, vals := make([]uint32, batchSize), make([]val16, batchSize)
		entries := 0
		for b.Loop() {
			var c maps.Cursor
			for !c.Done() {
				n, err := h.BatchLookup(&c, keys, vals)
				if err != nil {
					b.Fatal(err)
				}
				entries += n
			}
		}
		perEntry(b, entries)
	})
	b.Run("cilium-ebpf", func(b *testing.B) {
		m := ciliumMap(b, e.bigFD)
		b.ReportAllocs()
		keys, vals := make([]uint32, batchSize), make([]val16, batchSize)
		entries := 0
		for b.Loop() {
			var c ebpf.MapBatchCursor
			for {
				n, err := m.BatchLookup(&c, keys, vals, nil)
				entries += n
				if errors.Is(err, ebpf.ErrKeyNotExist) {
					break
				}
				if err != nil {
					b.Fatal(err)
				}
			}
		}
		perEntry(b, entries)
	})
	b.Run("libbpfgo", func(b *testing.B) {
		m := libbpfgoMap(b, e.bigFD)
		b.ReportAllocs()
		keys := make([]uint32, batchSize)
		entries := 0
		for b.Loop() {
			var in, out uint32
			var start unsafe.Pointer
			for {
				_, n, err := m.GetValueBatch(unsafe.Pointer(&keys[0]), start, unsafe.Pointer(&out), batchSize)
				entries += int(n)
				if errors.Is(err, syscall.ENOENT) {
					break
				}
				if err != nil {
					b.Fatal(err)
				}
				in, start = out, unsafe.Pointer(&in)
			}
		}
		perEntry(b, entries)
	})
}

// fillRing runs the fill program until the ring holds fillRepeat×perFillRuns events
// and returns how many it holds.
func fillRing(b *testing.B, e *env, rb *maps.RingBuf[event]) int {
	b.Helper()
	if _, err := e.fill.Test(&loader.TestOptions{Data: make([]byte, 64), Repeat: fillRepeat}); err != nil {
		b.Fatal(err)
	}
	return rb.Available() / eventSize
}

// BenchmarkRingBuf reads 64-byte events; one op is one event consumed. The ring is filled
// between timed drains. ReadInto is one event per call (what most users write), ReadBatch
// up to 256 (as the C callback copies into 256 slots), RawReadInto the raw reader's copy
// of each record's bytes.
func BenchmarkRingBuf(b *testing.B) {
	e := setup(b)
	rb, err := maps.NewRingBuf[event](e.events)
	if err != nil {
		b.Fatal(err)
	}
	defer rb.Close()
	drain := func() {
		ctx := context.Background()
		var ev event
		for n := rb.Available() / eventSize; n > 0; n-- {
			rb.ReadInto(ctx, &ev)
		}
	}
	drain()
	b.Run("C-libbpf", func(b *testing.B) {
		b.ReportMetric(runC(b, e, "ringbuf", []int{e.rbFD, must(e.fill.FD())}, strconv.Itoa(b.N), strconv.Itoa(fillRepeat)), "ns/op")
		drain()
	})
	b.Run("bpfkit-ReadInto", func(b *testing.B) {
		b.ReportAllocs()
		ctx := context.Background()
		var ev event
		for done := 0; done < b.N; {
			b.StopTimer()
			n := fillRing(b, e, rb)
			b.StartTimer()
			for range n {
				if err := rb.ReadInto(ctx, &ev); err != nil {
					b.Fatal(err)
				}
			}
			done += n
		}
	})
	b.Run("bpfkit-ReadBatch", func(b *testing.B) {
		b.ReportAllocs()
		ctx := context.Background()
		buf := make([]event, 256) // as the C callback copies into 256 slots
		for done := 0; done < b.N; {
			b.StopTimer()
			n := fillRing(b, e, rb)
			b.StartTimer()
			for got := 0; got < n; {
				m, err := rb.ReadBatch(ctx, buf)
				if err != nil {
					b.Fatal(err)
				}
				got += m
			}
			done += n
		}
	})
	b.Run("bpfkit-RawReadInto", func(b *testing.B) {
		raw, err := maps.NewRawRingBuf(e.events)
		if err != nil {
			b.Fatal(err)
		}
		defer raw.Close()
		b.ReportAllocs()
		ctx := context.Background()
		buf := make([]byte, 0, 64)
		for done := 0; done < b.N; {
			b.StopTimer()
			n := fillRing(b, e, rb)
			b.StartTimer()
			for range n {
				if buf, err = raw.ReadInto(ctx, buf); err != nil {
					b.Fatal(err)
				}
			}
			done += n
		}
	})
	b.Run("cilium-ebpf", func(b *testing.B) {
		rd, err := ringbuf.NewReader(ciliumMap(b, e.rbFD))
		if err != nil {
			b.Fatal(err)
		}
		defer rd.Close()
		b.ReportAllocs()
		var rec ringbuf.Record
		var ev event
		for done := 0; done < b.N; {
			b.StopTimer()
			n := fillRing(b, e, rb)
			b.StartTimer()
			for range n {
				if err := rd.ReadInto(&rec); err != nil {
					b.Fatal(err)
				}
				ev = *(*event)(unsafe.Pointer(&rec.RawSample[0]))
			}
			done += n
		}
		_ = ev
	})
}

func must[T any](v T, err error) T {
	if err != nil {
		panic(err)
	}
	return v
}
