// SPDX-License-Identifier: Apache-2.0

package loader_test

import (
	"bufio"
	"os/signal"
	"runtime"
	"strconv"
	"sync/atomic"
	"time"
	"unsafe"

	"errors"
	"golang.org/x/sys/unix"
	"net"
	"os"
	"path/filepath"
	"strings"
	"syscall"
	"testing"

	"github.com/bpfkit/bpfkit/loader"
)

// Indexes of hits[] in attach.bpf.c.
const (
	hitTP = iota
	hitRawTP
	hitTPBTF
	hitXDP
	hitTC
	hitCgroup
	hitOffByDefault
	hitUprobe
	hitPerfEvent
)

func openAttach(t *testing.T) *loader.Object {
	t.Helper()
	obj := open(t, "attach.bpf.o", testObject(t, "attach.bpf.o"), nil)
	if err := obj.SetGlobal("target_pid", uint32(os.Getpid())); err != nil {
		t.Fatal(err)
	}
	load(t, obj)
	return obj
}

func hits(t *testing.T, obj *loader.Object) [9]uint64 {
	t.Helper()
	var h [9]uint64
	if err := obj.Global("hits", &h); err != nil {
		t.Fatal(err)
	}
	return h
}

// TestAttachBySection: Attach attaches exactly the programs whose section names their
// attach point (tp, raw_tp, tp_btf), skips the others (xdp, tc, cgroup_skb, a bare
// uprobe) and the one with autoload off, and the attached ones really run.
func TestAttachBySection(t *testing.T) {
	obj := openAttach(t)
	if err := obj.Attach(); err != nil {
		t.Fatal(err)
	}
	var got []string
	for _, l := range obj.Links() {
		got = append(got, l.Program().Name())
	}
	want := "on_tp on_raw_tp on_tp_btf"
	if strings.Join(got, " ") != want {
		t.Fatalf("Attach linked %q, want %q", got, want)
	}
	if err := obj.Attach(); err != nil || len(obj.Links()) != 3 {
		t.Fatalf("second Attach: %v, %d links; want no error and still 3", err, len(obj.Links()))
	}

	before := hits(t, obj)
	const calls = 10
	for range calls {
		syscall.Getppid()
	}
	after := hits(t, obj)
	if d := after[hitTP] - before[hitTP]; d != calls {
		t.Errorf("tracepoint ran %d times for %d getppid calls", d, calls)
	}
	if d := after[hitRawTP] - before[hitRawTP]; d < calls {
		t.Errorf("raw_tp sys_enter ran %d times, want ≥ %d", d, calls)
	}
	if d := after[hitTPBTF] - before[hitTPBTF]; d < calls {
		t.Errorf("tp_btf sys_enter ran %d times, want ≥ %d", d, calls)
	}
	if after[hitOffByDefault] != 0 {
		t.Errorf("the ?tp program (autoload off) ran")
	}

	// Closing a link detaches its program.
	tp, _ := obj.Program("on_tp")
	for _, l := range obj.Links() {
		if l.Program() == tp {
			if err := l.Close(); err != nil {
				t.Fatal(err)
			}
		}
	}
	mid := hits(t, obj)
	syscall.Getppid()
	if hits(t, obj)[hitTP] != mid[hitTP] {
		t.Errorf("tracepoint still runs after its link was closed")
	}
	if len(obj.Links()) != 2 {
		t.Errorf("object still lists the closed link")
	}
}

// TestAttachErrors: a program whose section names no attach point, and bad targets.
func TestAttachErrors(t *testing.T) {
	obj := openAttach(t)
	xdp, _ := obj.Program("on_xdp")
	if _, err := xdp.Attach(); !errors.Is(err, loader.ErrNoAttachPoint) {
		t.Errorf("Attach of SEC(\"xdp\"): %v, want ErrNoAttachPoint", err)
	}
	if _, err := xdp.AttachXDP("no-such-if0", &loader.XDPOptions{Mode: loader.XDPGeneric}); err == nil || !strings.Contains(err.Error(), "no-such-if0") {
		t.Errorf("AttachXDP on a missing interface: %v", err)
	}
	tp, _ := obj.Program("on_tp")
	if _, err := tp.AttachTracepoint("syscalls", "no_such_tracepoint", nil); !errors.Is(err, syscall.ENOENT) {
		t.Errorf("AttachTracepoint to a missing tracepoint: %v, want ENOENT", err)
	}
	off, _ := obj.Program("off_by_default")
	if _, err := off.Attach(); !errors.Is(err, loader.ErrNotLoaded) {
		t.Errorf("Attach of a program with autoload off: %v, want ErrNotLoaded", err)
	}
}

// sendUDP sends n datagrams to 127.0.0.1 (a port nobody listens on is fine: the
// packets still cross lo).
func sendUDP(t *testing.T, n int) {
	t.Helper()
	c, err := net.Dial("udp4", "127.0.0.1:9")
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	for range n {
		if _, err := c.Write([]byte("bpfkit")); err != nil && !errors.Is(err, syscall.ECONNREFUSED) {
			t.Fatal(err)
		}
	}
}

// TestAttachNetwork attaches XDP (generic mode), tcx and cgroup_skb programs, sends
// packets over lo and sees each program count them.
func TestAttachNetwork(t *testing.T) {
	obj := openAttach(t)
	attach := []struct {
		prog string
		hit  int
		fn   func(p *loader.Program) (*loader.Link, error)
	}{
		{"on_xdp", hitXDP, func(p *loader.Program) (*loader.Link, error) { return attachXDPRetrying(t, p, "lo") }},
		{"on_tc", hitTC, func(p *loader.Program) (*loader.Link, error) { return p.AttachTCX("lo", nil) }},
		{"on_cgroup_egress", hitCgroup, func(p *loader.Program) (*loader.Link, error) { return p.AttachCgroup(cgroup2Root(t)) }},
	}
	for _, a := range attach {
		p, err := obj.Program(a.prog)
		if err != nil {
			t.Fatal(err)
		}
		if _, err := a.fn(p); err != nil {
			t.Fatalf("attaching %s: %v", a.prog, err)
		}
	}
	before := hits(t, obj)
	const packets = 20
	sendUDP(t, packets)
	after := hits(t, obj)
	for _, a := range attach {
		if d := after[a.hit] - before[a.hit]; d < packets {
			t.Errorf("%s counted %d packets, want ≥ %d", a.prog, d, packets)
		}
	}
}

// attachXDPRetrying attaches p to ifname in generic mode, waiting while another
// program (another test package running at the same time) holds the interface: XDP
// takes one program per interface, and the kernel says EBUSY.
func attachXDPRetrying(t *testing.T, p *loader.Program, ifname string) (*loader.Link, error) {
	t.Helper()
	deadline := time.Now().Add(30 * time.Second)
	for {
		l, err := p.AttachXDP(ifname, &loader.XDPOptions{Mode: loader.XDPGeneric})
		if !errors.Is(err, syscall.EBUSY) || time.Now().After(deadline) {
			return l, err
		}
		time.Sleep(50 * time.Millisecond)
	}
}

// cgroup2Root finds the cgroup v2 mount (/sys/fs/cgroup, or /sys/fs/cgroup/unified on
// a hybrid system).
func cgroup2Root(t *testing.T) string {
	t.Helper()
	f, err := os.Open("/proc/self/mounts")
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	s := bufio.NewScanner(f)
	for s.Scan() {
		fields := strings.Fields(s.Text())
		if len(fields) > 2 && fields[2] == "cgroup2" {
			return fields[1]
		}
	}
	t.Skip("no cgroup v2 hierarchy is mounted")
	return ""
}

// mappedLibrary returns the path of the shared library this process mapped whose
// file name contains name.
func mappedLibrary(t *testing.T, name string) string {
	t.Helper()
	b, err := os.ReadFile("/proc/self/maps")
	if err != nil {
		t.Fatal(err)
	}
	for _, line := range strings.Split(string(b), "\n") {
		fields := strings.Fields(line)
		if len(fields) == 6 && strings.Contains(filepath.Base(fields[5]), name) {
			return fields[5]
		}
	}
	t.Fatalf("no %s mapped in this process", name)
	return ""
}

// TestAttachUprobe attaches a uprobe by symbol to a function of the libbpf shared
// library this process uses, and counts the calls the loader makes to it. (go test
// strips its own binary's symbol table, so a Go function cannot be the target here.)
func TestAttachUprobe(t *testing.T) {
	obj := openAttach(t)
	lib := mappedLibrary(t, "libbpf.so")
	p, _ := obj.Program("on_uprobe")
	if _, err := p.AttachUprobe(lib, "bpf_map__key_size", &loader.UprobeOptions{PID: os.Getpid()}); err != nil {
		t.Fatal(err)
	}
	if _, err := p.AttachUprobe(lib, "no_such_function", nil); err == nil || !strings.Contains(err.Error(), "no_such_function") {
		t.Errorf("uprobe on a missing symbol: %v", err)
	}
	m, _ := obj.Map(".bss")
	before := hits(t, obj)[hitUprobe]
	for range 5 {
		_ = m.KeySize() // one bpf_map__key_size call each
	}
	if d := hits(t, obj)[hitUprobe] - before; d != 5 {
		t.Fatalf("uprobe ran %d times for 5 calls", d)
	}
}

// TestPin pins a map, a program and a link on bpffs, checks the pins exist, and
// removes them.
func TestPin(t *testing.T) {
	obj := openAttach(t)
	dir := filepath.Join("/sys/fs/bpf", "bpfkit-test-"+strings.ReplaceAll(t.Name(), "/", "-"))
	if err := os.MkdirAll(dir, 0o700); err != nil {
		t.Fatalf("bpffs not mounted? %v (run `make deps`)", err)
	}
	t.Cleanup(func() { _ = os.RemoveAll(dir) })
	m, _ := obj.Map(".bss")
	p, _ := obj.Program("on_tp")
	l, err := p.Attach()
	if err != nil {
		t.Fatal(err)
	}
	pins := map[string]func(string) error{"map": m.Pin, "prog": p.Pin, "link": l.Pin}
	unpins := map[string]func(string) error{"map": m.Unpin, "prog": p.Unpin, "link": l.Unpin}
	for what, pin := range pins {
		path := filepath.Join(dir, what)
		if err := pin(path); err != nil {
			t.Fatalf("pinning %s: %v", what, err)
		}
		if _, err := os.Stat(path); err != nil {
			t.Fatalf("pin of %s missing: %v", what, err)
		}
		if err := unpins[what](path); err != nil {
			t.Fatalf("unpinning %s: %v", what, err)
		}
		if _, err := os.Stat(path); !errors.Is(err, os.ErrNotExist) {
			t.Fatalf("pin of %s still there after Unpin: %v", what, err)
		}
	}
}

// TestUnsupportedHere: kprobes and trampolines (fentry) cannot work on every kernel;
// where they cannot, the test says why and skips, and where they can it runs.
func TestUnsupportedHere(t *testing.T) {
	t.Run("kprobe", func(t *testing.T) {
		obj := open(t, "kprobe.bpf.o", testObject(t, "kprobe.bpf.o"), nil)
		load(t, obj)
		err := obj.Attach()
		p, _ := obj.Program("on_kprobe")
		_, optsErr := p.AttachKprobe("do_nanosleep", &loader.KprobeOptions{Cookie: 7})
		if _, statErr := os.Stat("/sys/kernel/tracing/kprobe_events"); statErr != nil {
			if err == nil || optsErr == nil {
				t.Fatal("kprobe attached although the kernel has no kprobe_events")
			}
			if !errors.Is(optsErr, loader.ErrNotSupported) || !strings.Contains(optsErr.Error(), "CONFIG_KPROBES") {
				t.Fatalf("AttachKprobe without kprobes: %v, want ErrNotSupported naming CONFIG_KPROBES", optsErr)
			}
			t.Skipf("this kernel has no kprobes (CONFIG_KPROBES off; attach: %v)", err)
		}
		if err != nil || optsErr != nil {
			t.Fatal(err, optsErr)
		}
	})
	t.Run("fentry", func(t *testing.T) {
		obj := open(t, "fentry.bpf.o", testObject(t, "fentry.bpf.o"), nil)
		err := obj.Load()
		if errors.Is(err, syscall.EPERM) || errors.Is(err, syscall.EOPNOTSUPP) {
			t.Skipf("this kernel refuses BPF trampolines (fentry): %v", err)
		}
		if err != nil {
			t.Fatal(err)
		}
		if err := obj.Attach(); err != nil {
			t.Fatal(err)
		}
	})
}

// TestAttachPerfEvent attaches a perf_event program to a software CPU-clock event of
// this process that samples every 100µs of CPU time, burns CPU, and sees it run.
func TestAttachPerfEvent(t *testing.T) {
	obj := openAttach(t)
	attr := unix.PerfEventAttr{
		Type:   unix.PERF_TYPE_SOFTWARE,
		Config: unix.PERF_COUNT_SW_CPU_CLOCK,
		Size:   uint32(unsafe.Sizeof(unix.PerfEventAttr{})),
		Sample: 100_000, // sample_period in ns of CPU clock
	}
	runtime.LockOSThread()
	defer runtime.UnlockOSThread()
	fd, err := unix.PerfEventOpen(&attr, 0, -1, -1, unix.PERF_FLAG_FD_CLOEXEC)
	if err != nil {
		t.Fatalf("perf_event_open: %v", err)
	}
	defer unix.Close(fd)
	p, _ := obj.Program("on_perf_event")
	if _, err := p.AttachPerfEvent(fd, nil); err != nil {
		t.Fatal(err)
	}
	deadline := time.Now().Add(50 * time.Millisecond)
	x := 0
	for time.Now().Before(deadline) {
		x++
	}
	if h := hits(t, obj)[hitPerfEvent]; h == 0 {
		t.Fatalf("perf_event program never ran in 50ms of CPU (%d loops)", x)
	}
	// the caller keeps owning its descriptor: the link closes only its own copy
	if err := obj.Close(); err != nil {
		t.Fatalf("Close: %v", err)
	}
	if _, err := unix.FcntlInt(uintptr(fd), unix.F_GETFD, 0); err != nil {
		t.Fatalf("the caller's perf event fd was closed with the link: %v", err)
	}
}

// TestRunRepeatNotInterrupted: a long repeated BPF_PROG_TEST_RUN completes every run
// although signals keep arriving at every thread of the process (the kernel stops a run
// with EINTR when its thread has a signal pending; the Go runtime's own preemption
// signals do the same), and the program's counter shows the exact number of runs.
func TestRunRepeatNotInterrupted(t *testing.T) {
	obj := openAttach(t)
	p, _ := obj.Program("on_xdp")

	sigs := make(chan os.Signal, 64)
	signal.Notify(sigs, syscall.SIGUSR1)
	defer signal.Stop(sigs)
	stop := make(chan struct{})
	var sent atomic.Int64
	go func() { // SIGUSR1 to every thread, every millisecond
		pid := os.Getpid()
		for {
			select {
			case <-stop:
				return
			case <-sigs:
			default:
			}
			tasks, _ := os.ReadDir("/proc/self/task")
			for _, task := range tasks {
				if tid, err := strconv.Atoi(task.Name()); err == nil && unix.Tgkill(pid, tid, syscall.SIGUSR1) == nil {
					sent.Add(1)
				}
			}
			time.Sleep(time.Millisecond)
		}
	}()

	packet := make([]byte, 64)
	const repeat, calls = 1_000_000, 5
	before := hits(t, obj)[hitXDP]
	for range calls {
		res, err := p.Test(&loader.TestOptions{Data: packet, Repeat: repeat})
		if err != nil {
			close(stop)
			t.Fatalf("test run of %d repeats with signals arriving: %v", repeat, err)
		}
		if res.Retval != 2 { // XDP_PASS
			t.Errorf("retval %d, want XDP_PASS (2)", res.Retval)
		}
	}
	close(stop)
	if d := hits(t, obj)[hitXDP] - before; d != repeat*calls {
		t.Fatalf("program ran %d times, want %d", d, repeat*calls)
	}
	if sent.Load() == 0 {
		t.Fatal("no signal was sent: the test proved nothing")
	}
	t.Logf("%d signals sent during %d runs", sent.Load(), repeat*calls)
}

// TestPinOwnership is issue 10 item 5: Unpin removes only what this object pinned, a pin
// outside bpffs creates nothing and fails, and a later valid pin of the same map works.
func TestPinOwnership(t *testing.T) {
	dir := filepath.Join("/sys/fs/bpf", "bpfkit-test-"+strings.ReplaceAll(t.Name(), "/", "-"))
	if err := os.MkdirAll(dir, 0o700); err != nil {
		t.Fatalf("bpffs not mounted? %v (run `make deps`)", err)
	}
	t.Cleanup(func() { _ = os.RemoveAll(dir) })
	a, b := openAttach(t), openAttach(t)
	ma, _ := a.Map(".bss")
	mb, _ := b.Map(".bss")

	// a pin outside bpffs fails before creating its directories
	outside := filepath.Join(t.TempDir(), "not", "bpffs")
	if err := ma.Pin(filepath.Join(outside, "pin")); err == nil || !strings.Contains(err.Error(), "BPF file system") {
		t.Fatalf("pin outside bpffs: %v", err)
	}
	if _, err := os.Stat(filepath.Dir(outside)); !errors.Is(err, os.ErrNotExist) {
		t.Fatalf("a failed pin created %s: %v", filepath.Dir(outside), err)
	}
	// ... and the same map pins fine afterwards, in a directory it creates on bpffs
	path := filepath.Join(dir, "sub", "bss")
	if err := ma.Pin(path); err != nil {
		t.Fatalf("valid pin after a failed one: %v", err)
	}
	// b never pinned there: its Unpin removes nothing
	if err := mb.Unpin(path); !errors.Is(err, loader.ErrNotFound) {
		t.Fatalf("Unpin of a path this object never pinned: %v, want ErrNotFound", err)
	}
	if _, err := os.Stat(path); err != nil {
		t.Fatalf("another object's Unpin removed the pin: %v", err)
	}
	// a pin replaced by another object's is left in place
	if err := os.Remove(path); err != nil {
		t.Fatal(err)
	}
	if err := mb.Pin(path); err != nil {
		t.Fatal(err)
	}
	if err := ma.Unpin(path); err == nil {
		t.Fatal("Unpin removed a pin that now holds another object's map")
	}
	if _, err := os.Stat(path); err != nil {
		t.Fatalf("the other object's pin is gone: %v", err)
	}
	if err := mb.Unpin(path); err != nil {
		t.Fatal(err)
	}
	if _, err := os.Stat(path); !errors.Is(err, os.ErrNotExist) {
		t.Fatalf("pin still there: %v", err)
	}
	// a pin over an existing one fails with the kernel's EEXIST
	if err := ma.Pin(filepath.Join(dir, "made", "x")); err != nil {
		t.Fatal(err)
	}
	if err := mb.Pin(filepath.Join(dir, "made", "x")); !errors.Is(err, syscall.EEXIST) {
		t.Fatalf("pin over an existing pin: %v, want EEXIST", err)
	}
}
