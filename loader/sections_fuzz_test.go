// SPDX-License-Identifier: Apache-2.0

package loader_test

import (
	"log/slog"
	"strings"
	"testing"

	"github.com/bpfkit/bpfkit/internal/sys"
	"github.com/bpfkit/bpfkit/loader"
)

// sectionNames are section names of every kind libbpf knows, with and without targets,
// and a few it does not.
var sectionNames = []string{
	"socket", "socket/x", "sk_reuseport", "sk_reuseport/migrate", "kprobe", "kprobe/do_sys_open",
	"kretprobe/x", "uprobe", "uprobe//bin/sh:main", "uprobe.s/x", "uretprobe", "uretprobe.s",
	"kprobe.multi/x*", "kretprobe.multi", "kprobe.session/x", "uprobe.multi/x", "uretprobe.multi.s/x",
	"uprobe.multi.s", "ksyscall/write", "kretsyscall", "usdt/a:b:c", "usdt.s",
	"tc", "tc/ingress", "tc/egress", "tcx/ingress", "tcx/egress", "tc/other", "classifier", "action",
	"netkit/primary", "netkit/peer", "tracepoint/a/b", "tp", "tp/syscalls/sys_enter_write",
	"raw_tracepoint/x", "raw_tp", "raw_tp.w/x", "raw_tracepoint.w", "tp_btf/sched_switch",
	"fentry/x", "fmod_ret/x", "fexit/x", "fentry.s/x", "fmod_ret.s/x", "fexit.s/x", "freplace/x",
	"lsm/file_open", "lsm.s/x", "lsm_cgroup/x", "iter/task", "iter.s/task", "syscall",
	"xdp", "xdp.frags", "xdp/devmap", "xdp.frags/devmap", "xdp/cpumap", "xdp.frags/cpumap",
	"perf_event", "lwt_in", "lwt_out", "lwt_xmit", "lwt_seg6local", "sockops", "sk_skb",
	"sk_skb/stream_parser", "sk_skb/stream_verdict", "sk_skb/verdict", "sk_msg", "lirc_mode2",
	"flow_dissector", "cgroup_skb/ingress", "cgroup_skb/egress", "cgroup/skb",
	"cgroup/sock_create", "cgroup/sock_release", "cgroup/sock", "cgroup/post_bind4",
	"cgroup/post_bind6", "cgroup/bind4", "cgroup/bind6", "cgroup/connect4", "cgroup/connect6",
	"cgroup/connect_unix", "cgroup/sendmsg4", "cgroup/sendmsg6", "cgroup/sendmsg_unix",
	"cgroup/recvmsg4", "cgroup/recvmsg6", "cgroup/recvmsg_unix", "cgroup/getpeername4",
	"cgroup/getpeername6", "cgroup/getpeername_unix", "cgroup/getsockname4",
	"cgroup/getsockname6", "cgroup/getsockname_unix", "cgroup/sysctl", "cgroup/getsockopt",
	"cgroup/setsockopt", "cgroup/dev", "struct_ops/x", "struct_ops.s", "sk_lookup", "netfilter",
	"?xdp", "?tp/a/b", "xdpx", "tpx/y", "kprobex", "", "?", "/", "cgroup", "cgroup/unknown",
	"sockops/x", "xdp/", "tc/", "fentry/",
}

// newerThanLibbpf14 are kinds of the table that libbpf 1.4 (this machine's) does not
// know yet: libbpf 1.5 added them.
var newerThanLibbpf14 = map[string]bool{"kprobe.session": true}

// checkSectionAgainstLibbpf compares internal/sys's reading of a section name with
// libbpf's own.
func checkSectionAgainstLibbpf(t *testing.T, sec string) {
	ps, ok := sys.ParseProgramSection(sec)
	lt, la, lok := loader.LibbpfSectionTypes(strings.TrimPrefix(sec, "?")) // libbpf strips the "?" at open
	if ok && newerThanLibbpf14[ps.Kind] {
		return
	}
	if ok != lok {
		t.Fatalf("section %q: known to sys %v (%+v), to libbpf %v", sec, ok, ps, lok)
	}
	if ok && (uint32(ps.Type) != lt || uint32(ps.AttachType) != la) {
		t.Fatalf("section %q: sys says type %v attach %v, libbpf %d %d", sec, ps.Type, ps.AttachType, lt, la)
	}
}

// TestSectionTableMatchesLibbpf holds the section table of internal/sys (which packages
// that do not link libbpf use) against libbpf itself, name by name.
func TestSectionTableMatchesLibbpf(t *testing.T) {
	quiet(t)
	for _, sec := range sectionNames {
		checkSectionAgainstLibbpf(t, sec)
	}
}

// FuzzSectionTable is the same comparison on arbitrary names: a section name is what an
// object (untrusted input) says about its program.
func FuzzSectionTable(f *testing.F) {
	for _, s := range sectionNames {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, sec string) {
		if strings.IndexByte(sec, 0) >= 0 {
			return // a C string ends there
		}
		quiet(t)
		checkSectionAgainstLibbpf(t, sec)
	})
}

// quiet drops libbpf's warnings (an unknown section name is one) for the test.
func quiet(t *testing.T) {
	prev := slog.Default()
	slog.SetDefault(discardLogger())
	t.Cleanup(func() { slog.SetDefault(prev) })
}
