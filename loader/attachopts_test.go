// SPDX-License-Identifier: Apache-2.0

package loader_test

import (
	"errors"
	"fmt"
	"net"
	"os"
	"os/exec"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	"github.com/cilium/ebpf"
	"github.com/cilium/ebpf/link"
	"golang.org/x/sys/unix"

	"github.com/bpfkit/bpfkit/bpf"
	"github.com/bpfkit/bpfkit/internal/sys"
	"github.com/bpfkit/bpfkit/loader"
)

// vethPair makes a veth pair of this test's own, up, removed when the test ends, so that
// XDP and tcx tests do not share lo with other test packages running at the same time.
func vethPair(t *testing.T) string {
	t.Helper()
	name := fmt.Sprintf("bk%da", os.Getpid()%100000)
	if out, err := exec.Command("ip", "link", "add", name, "type", "veth", "peer", "name", name[:len(name)-1]+"b").CombinedOutput(); err != nil {
		t.Fatalf("ip link add: %v: %s", err, out)
	}
	t.Cleanup(func() { _ = exec.Command("ip", "link", "del", name).Run() })
	if out, err := exec.Command("ip", "link", "set", name, "up").CombinedOutput(); err != nil {
		t.Fatalf("ip link set up: %v: %s", err, out)
	}
	return name
}

func program(t *testing.T, obj *loader.Object, name string) *loader.Program {
	t.Helper()
	p, err := obj.Program(name)
	if err != nil {
		t.Fatal(err)
	}
	return p
}

func programIDOf(t *testing.T, p *loader.Program) uint32 {
	t.Helper()
	fd, err := p.FD()
	if err != nil {
		t.Fatal(err)
	}
	return programID(t, fd)
}

// TestAttachCookies: the cookie given in the options is what the program reads with
// bpf_get_attach_cookie, for a uprobe, a tracepoint and a raw tracepoint.
func TestAttachCookies(t *testing.T) {
	obj := open(t, "cookie.bpf.o", testObject(t, "cookie.bpf.o"), nil)
	if err := obj.SetGlobal("target_pid", uint32(os.Getpid())); err != nil {
		t.Fatal(err)
	}
	load(t, obj)
	lib := mappedLibrary(t, "libbpf.so")
	if _, err := program(t, obj, "cookie_uprobe").AttachUprobe(lib, "bpf_map__key_size", &loader.UprobeOptions{PID: os.Getpid(), Cookie: 0x1111}); err != nil {
		t.Fatal(err)
	}
	if _, err := program(t, obj, "cookie_tp").AttachTracepoint("syscalls", "sys_enter_getppid", &loader.TracepointOptions{Cookie: 0x2222}); err != nil {
		t.Fatal(err)
	}
	if _, err := program(t, obj, "cookie_raw_tp").AttachRawTracepoint("sys_enter", &loader.RawTracepointOptions{Cookie: 0x3333}); err != nil {
		t.Fatal(err)
	}
	m, _ := obj.Map(".bss")
	_ = m.KeySize() // the uprobe
	syscall.Getppid()
	var got [3]uint64
	if err := obj.Global("cookies", &got); err != nil {
		t.Fatal(err)
	}
	if got != [3]uint64{0x1111, 0x2222, 0x3333} {
		t.Fatalf("cookies seen by the programs: %#x, want 0x1111 0x2222 0x3333", got)
	}
}

// TestTCXAnchors: Head, Tail, AfterProgram and BeforeLink place the programs on the hook
// in that order, and ExpectedRevision refuses a stale view of the hook.
func TestTCXAnchors(t *testing.T) {
	ifname := vethPair(t)
	iface, err := net.InterfaceByName(ifname)
	if err != nil {
		t.Fatal(err)
	}
	objs := make([]*loader.Object, 4)
	progs := make([]*loader.Program, 4)
	ids := make([]uint32, 4)
	for i := range objs {
		objs[i] = openAttach(t)
		progs[i] = program(t, objs[i], "on_tc")
		ids[i] = programIDOf(t, progs[i])
	}
	order := func() []uint32 {
		got, _, err := sys.ProgQuery(iface.Index, uint32(ebpf.AttachTCXIngress))
		if err != nil {
			t.Fatal(err)
		}
		return got
	}
	l0, err := progs[0].AttachTCX(ifname, nil) // the zero Anchor: tail
	if err != nil {
		t.Fatal(err)
	}
	if _, err := progs[1].AttachTCX(ifname, &loader.TCXOptions{Anchor: loader.Head()}); err != nil {
		t.Fatal(err)
	}
	if _, err := progs[2].AttachTCX(ifname, &loader.TCXOptions{Anchor: loader.AfterProgram(progs[1])}); err != nil {
		t.Fatal(err)
	}
	_, rev, err := sys.ProgQuery(iface.Index, uint32(ebpf.AttachTCXIngress))
	if err != nil {
		t.Fatal(err)
	}
	_, err = progs[3].AttachTCX(ifname, &loader.TCXOptions{Anchor: loader.BeforeLink(l0), ExpectedRevision: rev + 7})
	if !errors.Is(err, unix.ESTALE) {
		t.Fatalf("attach with a stale revision: %v, want ESTALE", err)
	}
	if _, err := progs[3].AttachTCX(ifname, &loader.TCXOptions{Anchor: loader.BeforeLink(l0), ExpectedRevision: rev}); err != nil {
		t.Fatal(err)
	}
	if want := []uint32{ids[1], ids[2], ids[3], ids[0]}; !slices.Equal(order(), want) {
		t.Fatalf("programs on the hook: %v, want %v", order(), want)
	}
	if _, err := progs[0].AttachTCX(ifname, &loader.TCXOptions{Direction: loader.TCEgress, Anchor: loader.Head()}); err != nil {
		t.Fatal(err)
	}
	if got, _, _ := sys.ProgQuery(iface.Index, uint32(ebpf.AttachTCXEgress)); !slices.Equal(got, []uint32{ids[0]}) {
		t.Fatalf("egress hook: %v", got)
	}
}

// TestLinkInfoUpdateDetach: a link reports what it is; an XDP link's program can be
// replaced and the link detached; a tracepoint link can do neither, and says why.
func TestLinkInfoUpdateDetach(t *testing.T) {
	ifname := vethPair(t)
	iface, _ := net.InterfaceByName(ifname)
	a, b := openAttach(t), openAttach(t)
	pa, pb := program(t, a, "on_xdp"), program(t, b, "on_xdp")
	l, err := pa.AttachXDP(ifname, &loader.XDPOptions{Mode: loader.XDPGeneric})
	if err != nil {
		t.Fatal(err)
	}
	info, err := l.Info()
	if err != nil {
		t.Fatal(err)
	}
	if info.Type != link.XDPType || info.Ifindex != uint32(iface.Index) || info.ProgramID != programIDOf(t, pa) || info.ID == 0 {
		t.Fatalf("XDP link info %+v", info)
	}
	if err := l.Update(pb); err != nil {
		t.Fatal(err)
	}
	if info, _ := l.Info(); info.ProgramID != programIDOf(t, pb) || l.Program() != pb {
		t.Fatalf("after Update: program ID %d, want %d", info.ProgramID, programIDOf(t, pb))
	}
	if err := l.Detach(); err != nil {
		t.Fatal(err)
	}
	// the interface is free again: another XDP program attaches without EBUSY
	if _, err := pa.AttachXDP(ifname, &loader.XDPOptions{Mode: loader.XDPGeneric}); err != nil {
		t.Fatalf("attaching after Detach: %v", err)
	}
	if err := l.Close(); err != nil {
		t.Fatal(err)
	}
	if _, err := l.Info(); !errors.Is(err, loader.ErrClosed) {
		t.Fatalf("Info after Close: %v", err)
	}

	tp, err := program(t, a, "on_tp").Attach()
	if err != nil {
		t.Fatal(err)
	}
	if info, err := tp.Info(); err != nil || info.Type != link.PerfEventType {
		t.Fatalf("tracepoint link info %+v, %v", info, err)
	}
	if err := tp.Update(program(t, b, "on_tp")); !errors.Is(err, loader.ErrNotSupported) {
		t.Fatalf("Update of a tracepoint link: %v, want ErrNotSupported", err)
	}
	if err := tp.Detach(); !errors.Is(err, loader.ErrNotSupported) {
		t.Fatalf("Detach of a tracepoint link: %v, want ErrNotSupported", err)
	}
}

// TestNotSupportedNamesKernel: an attach the kernel refuses, on a kernel older than the
// feature, wraps ErrNotSupported and names the kernel it needs. (This machine's kernel
// has every feature; the test pretends to be 6.1 and provokes the EINVAL a 6.1 kernel
// would give every tcx attach, with an XDP program, which tcx refuses.)
func TestNotSupportedNamesKernel(t *testing.T) {
	ifname := vethPair(t)
	p := program(t, openAttach(t), "on_xdp")
	restore := sys.PretendKernel(sys.Version{Major: 6, Minor: 1})
	defer restore()
	_, err := p.AttachTCX(ifname, nil)
	if !errors.Is(err, loader.ErrNotSupported) || !errors.Is(err, unix.EINVAL) {
		t.Fatalf("refused tcx attach on a pretended 6.1: %v", err)
	}
	if want := "needs Linux 6.6 or later, this is 6.1"; !strings.Contains(err.Error(), want) || !strings.Contains(err.Error(), "tcx ingress") {
		t.Fatalf("error %q does not say %q", err, want)
	}
	restore()
	_, err = p.AttachTCX(ifname, nil)
	if errors.Is(err, loader.ErrNotSupported) || !errors.Is(err, unix.EINVAL) {
		t.Fatalf("the same refusal on a kernel that has tcx: %v, want the bare errno", err)
	}
}

// TestConcurrentAttach is issue 14's: Object.Attach from several goroutines at once
// attaches each program once (run with -race).
func TestConcurrentAttach(t *testing.T) {
	for range 20 {
		obj := open(t, "minimal.bpf.o", bpf.Minimal, nil)
		load(t, obj)
		var wg sync.WaitGroup
		for range 4 {
			wg.Go(func() {
				if err := obj.Attach(); err != nil {
					t.Error(err)
				}
			})
		}
		wg.Wait()
		if n := len(obj.Links()); n != 1 {
			t.Fatalf("4 concurrent Attach calls made %d links, want 1", n)
		}
		obj.Close()
	}
}

// TestFDDuringLoad is issue 14's: Map.FD and Program.FD called while Load runs are no
// data race (run with -race): before the descriptors exist they say ErrNotLoaded, after
// they return them.
func TestFDDuringLoad(t *testing.T) {
	for range 10 {
		obj := openAttach0(t)
		m, _ := obj.Map(".bss")
		p := program(t, obj, "on_tp")
		var stop atomic.Bool
		var wg sync.WaitGroup
		wg.Go(func() {
			for !stop.Load() {
				for _, fd := range []func() (int, error){m.FD, p.FD} {
					if _, err := fd(); err != nil && !errors.Is(err, loader.ErrNotLoaded) {
						t.Errorf("FD during Load: %v", err)
					}
				}
			}
		})
		load(t, obj)
		stop.Store(true)
		wg.Wait()
		if _, err := m.FD(); err != nil {
			t.Fatal(err)
		}
		if _, err := p.FD(); err != nil {
			t.Fatal(err)
		}
		obj.Close()
	}
}

// openAttach0 opens attach.bpf.o without loading it.
func openAttach0(t *testing.T) *loader.Object {
	t.Helper()
	return open(t, "attach.bpf.o", testObject(t, "attach.bpf.o"), nil)
}

// TestAttachByIfindex: AttachXDP and AttachTCX take the interface by index; the link is
// on that interface and sees its packets; an index that names no interface, or another
// interface than the name given, is refused.
func TestAttachByIfindex(t *testing.T) {
	obj := openAttach(t)
	lo, err := net.InterfaceByName("lo")
	if err != nil {
		t.Fatal(err)
	}
	xdp := progOf(t, obj, "on_xdp")
	deadline := time.Now().Add(30 * time.Second)
	var l *loader.Link
	for { // another test package may hold lo's XDP hook for a moment
		l, err = xdp.AttachXDP("", &loader.XDPOptions{Mode: loader.XDPGeneric, Ifindex: lo.Index})
		if !errors.Is(err, syscall.EBUSY) || time.Now().After(deadline) {
			break
		}
		time.Sleep(50 * time.Millisecond)
	}
	if err != nil {
		t.Fatal(err)
	}
	tcx, err := progOf(t, obj, "on_tc").AttachTCX("", &loader.TCXOptions{Ifindex: lo.Index})
	if err != nil {
		t.Fatal(err)
	}
	for _, l := range []*loader.Link{l, tcx} {
		info, err := l.Info()
		if err != nil {
			t.Fatal(err)
		}
		if info.Ifindex != uint32(lo.Index) {
			t.Errorf("%s: link on interface %d, want lo (%d)", l, info.Ifindex, lo.Index)
		}
		if !strings.Contains(l.String(), fmt.Sprintf("interface index %d", lo.Index)) {
			t.Errorf("link %q does not name the interface index", l)
		}
	}
	before := hits(t, obj)
	sendUDP(t, 10)
	after := hits(t, obj)
	if after[hitXDP]-before[hitXDP] < 10 || after[hitTC]-before[hitTC] < 10 {
		t.Errorf("XDP counted %d, tcx %d of 10 packets", after[hitXDP]-before[hitXDP], after[hitTC]-before[hitTC])
	}

	for _, c := range []struct {
		name    string
		ifname  string
		ifindex int
		want    string
	}{
		{"no interface", "", 0, `interface ""`},
		{"missing index", "", 1 << 30, "interface index 1073741824"},
		{"name and index differ", "bpfkit-none", lo.Index, `"bpfkit-none" is not index`},
	} {
		_, err := xdp.AttachXDP(c.ifname, &loader.XDPOptions{Ifindex: c.ifindex})
		if err == nil || !strings.Contains(err.Error(), c.want) {
			t.Errorf("%s: AttachXDP: %v, want an error with %q", c.name, err, c.want)
		}
		_, err = progOf(t, obj, "on_tc").AttachTCX(c.ifname, &loader.TCXOptions{Ifindex: c.ifindex})
		if err == nil || !strings.Contains(err.Error(), c.want) {
			t.Errorf("%s: AttachTCX: %v, want an error with %q", c.name, err, c.want)
		}
	}
}
