// SPDX-License-Identifier: Apache-2.0

package spinlock

import (
	"strconv"
	"strings"

	"github.com/cilium/ebpf"

	"github.com/bpfkit/bpfkit/internal/sys"
)

// Program types are cilium/ebpf's (ebpf.ProgramType), as libbpf resolves them from a
// program's section name (the loader passes them in Options.ProgramTypes).

// progTypeNames are short lower-case names of program types, for messages.
var progTypeNames = map[ebpf.ProgramType]string{
	ebpf.UnspecifiedProgram: "unspecified", ebpf.SocketFilter: "socket filter", ebpf.Kprobe: "kprobe",
	ebpf.SchedCLS: "tc", ebpf.SchedACT: "tc action", ebpf.TracePoint: "tracepoint", ebpf.XDP: "xdp",
	ebpf.PerfEvent: "perf_event", ebpf.CGroupSKB: "cgroup_skb", ebpf.CGroupSock: "cgroup_sock",
	ebpf.LWTIn: "lwt_in", ebpf.LWTOut: "lwt_out", ebpf.LWTXmit: "lwt_xmit", ebpf.SockOps: "sockops",
	ebpf.SkSKB: "sk_skb", ebpf.CGroupDevice: "cgroup_device", ebpf.SkMsg: "sk_msg",
	ebpf.RawTracepoint: "raw_tracepoint", ebpf.CGroupSockAddr: "cgroup_sock_addr",
	ebpf.LWTSeg6Local: "lwt_seg6local", ebpf.LircMode2: "lirc_mode2", ebpf.SkReuseport: "sk_reuseport",
	ebpf.FlowDissector: "flow_dissector", ebpf.CGroupSysctl: "cgroup_sysctl",
	ebpf.RawTracepointWritable: "raw_tracepoint_writable", ebpf.CGroupSockopt: "cgroup_sockopt",
	ebpf.Tracing: "tracing", ebpf.StructOps: "struct_ops", ebpf.Extension: "freplace", ebpf.LSM: "lsm",
	ebpf.SkLookup: "sk_lookup", ebpf.Syscall: "syscall", ebpf.Netfilter: "netfilter",
}

// progTypeName names t for messages ("tracepoint", "socket filter").
func progTypeName(t ebpf.ProgramType) string {
	if n, ok := progTypeNames[t]; ok {
		return n
	}
	return "prog_type(" + strconv.FormatUint(uint64(t), 10) + ")"
}

// isTracing reports whether the kernel's is_tracing_prog_type holds (unchanged 6.1 → 7.1).
func isTracing(t ebpf.ProgramType) bool {
	switch t {
	case ebpf.Kprobe, ebpf.TracePoint, ebpf.PerfEvent, ebpf.RawTracepoint, ebpf.RawTracepointWritable:
		return true
	}
	return false
}

// sectionInfo is what a libbpf section name says about a program.
type sectionInfo struct {
	typ       ebpf.ProgramType
	sleepable bool
	// kind names the flavour in messages: the section's definition without "?" and ".s"
	// ("fentry", "tp", "cgroup/connect4").
	kind string
}

// parseSection resolves a libbpf section name with libbpf's section table (shared with
// the loader: internal/sys). An unknown name has the unspecified type.
func parseSection(sec string) sectionInfo {
	ps, ok := sys.ParseProgramSection(sec)
	if !ok {
		head, _, _ := strings.Cut(strings.TrimPrefix(sec, "?"), "/")
		return sectionInfo{typ: ebpf.UnspecifiedProgram, kind: head}
	}
	return sectionInfo{typ: ps.Type, sleepable: ps.Sleepable, kind: strings.TrimSuffix(ps.Kind, ".s")}
}

// futureTracing reports whether kind is one of the TRACING flavours that upstream work
// (2026) prepares to add to the kernel's list of tracing types.
func futureTracing(kind string) bool {
	switch kind {
	case "fentry", "fexit", "fmod_ret":
		return true
	}
	return false
}
