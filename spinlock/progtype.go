// SPDX-License-Identifier: Apache-2.0

package spinlock

import (
	"strconv"
	"strings"
)

// ProgramType is a kernel enum bpf_prog_type value, as libbpf resolves it from a
// program's section name (the loader passes these in Options.ProgramTypes).
type ProgramType uint32

// Program types, with the values of the kernel's enum bpf_prog_type.
const (
	Unspecified           ProgramType = 0
	SocketFilter          ProgramType = 1
	Kprobe                ProgramType = 2
	SchedCLS              ProgramType = 3
	SchedACT              ProgramType = 4
	Tracepoint            ProgramType = 5
	XDP                   ProgramType = 6
	PerfEvent             ProgramType = 7
	CgroupSKB             ProgramType = 8
	CgroupSock            ProgramType = 9
	LWTIn                 ProgramType = 10
	LWTOut                ProgramType = 11
	LWTXmit               ProgramType = 12
	SockOps               ProgramType = 13
	SKSKB                 ProgramType = 14
	CgroupDevice          ProgramType = 15
	SKMsg                 ProgramType = 16
	RawTracepoint         ProgramType = 17
	CgroupSockAddr        ProgramType = 18
	LWTSeg6Local          ProgramType = 19
	LircMode2             ProgramType = 20
	SKReuseport           ProgramType = 21
	FlowDissector         ProgramType = 22
	CgroupSysctl          ProgramType = 23
	RawTracepointWritable ProgramType = 24
	CgroupSockopt         ProgramType = 25
	Tracing               ProgramType = 26
	StructOps             ProgramType = 27
	Extension             ProgramType = 28
	LSM                   ProgramType = 29
	SKLookup              ProgramType = 30
	Syscall               ProgramType = 31
	Netfilter             ProgramType = 32
)

var progTypeNames = map[ProgramType]string{
	Unspecified: "unspecified", SocketFilter: "socket filter", Kprobe: "kprobe",
	SchedCLS: "tc", SchedACT: "tc action", Tracepoint: "tracepoint", XDP: "xdp",
	PerfEvent: "perf_event", CgroupSKB: "cgroup_skb", CgroupSock: "cgroup_sock",
	LWTIn: "lwt_in", LWTOut: "lwt_out", LWTXmit: "lwt_xmit", SockOps: "sockops",
	SKSKB: "sk_skb", CgroupDevice: "cgroup_device", SKMsg: "sk_msg",
	RawTracepoint: "raw_tracepoint", CgroupSockAddr: "cgroup_sock_addr",
	LWTSeg6Local: "lwt_seg6local", LircMode2: "lirc_mode2", SKReuseport: "sk_reuseport",
	FlowDissector: "flow_dissector", CgroupSysctl: "cgroup_sysctl",
	RawTracepointWritable: "raw_tracepoint_writable", CgroupSockopt: "cgroup_sockopt",
	Tracing: "tracing", StructOps: "struct_ops", Extension: "freplace", LSM: "lsm",
	SKLookup: "sk_lookup", Syscall: "syscall", Netfilter: "netfilter",
}

// String returns a short lower-case name of the type ("tracepoint", "socket filter").
func (t ProgramType) String() string {
	if n, ok := progTypeNames[t]; ok {
		return n
	}
	return "prog_type(" + strconv.FormatUint(uint64(t), 10) + ")"
}

// isTracing reports whether the kernel's is_tracing_prog_type holds (unchanged 6.1 → 7.1).
func (t ProgramType) isTracing() bool {
	switch t {
	case Kprobe, Tracepoint, PerfEvent, RawTracepoint, RawTracepointWritable:
		return true
	}
	return false
}

// sectionInfo is what a libbpf section name says about a program.
type sectionInfo struct {
	typ       ProgramType
	sleepable bool
	// kind is the first component of the section name without "?" and ".s"
	// ("fentry", "tp", "cgroup/skb"); it names the flavour in messages.
	kind string
}

// exact first components of libbpf's section_defs[] (libbpf 1.4/1.5) and their types.
var sectionHeads = map[string]ProgramType{
	"socket": SocketFilter,
	"kprobe": Kprobe, "kretprobe": Kprobe, "uprobe": Kprobe, "uretprobe": Kprobe,
	"ksyscall": Kprobe, "kretsyscall": Kprobe, "usdt": Kprobe,
	"kprobe.multi": Kprobe, "kretprobe.multi": Kprobe, "kprobe.session": Kprobe,
	"uprobe.multi": Kprobe, "uretprobe.multi": Kprobe, "uprobe.session": Kprobe,
	"tracepoint": Tracepoint, "tp": Tracepoint,
	"raw_tracepoint": RawTracepoint, "raw_tp": RawTracepoint,
	"raw_tracepoint.w": RawTracepointWritable, "raw_tp.w": RawTracepointWritable,
	"perf_event": PerfEvent,
	"tp_btf":     Tracing, "fentry": Tracing, "fmod_ret": Tracing, "fexit": Tracing, "iter": Tracing,
	"freplace": Extension,
	"lsm":      LSM, "lsm_cgroup": LSM,
	"syscall": Syscall,
	"xdp":     XDP, "xdp.frags": XDP,
	"tc": SchedCLS, "tcx": SchedCLS, "classifier": SchedCLS, "netkit": SchedCLS,
	"action":         SchedACT,
	"cgroup_skb":     CgroupSKB,
	"sockops":        SockOps,
	"sk_skb":         SKSKB,
	"sk_msg":         SKMsg,
	"sk_lookup":      SKLookup,
	"sk_reuseport":   SKReuseport,
	"flow_dissector": FlowDissector,
	"lwt_in":         LWTIn, "lwt_out": LWTOut, "lwt_xmit": LWTXmit, "lwt_seg6local": LWTSeg6Local,
	"lirc_mode2": LircMode2,
	"struct_ops": StructOps,
	"netfilter":  Netfilter,
}

// parseSection resolves a libbpf section name the way libbpf's section_defs[] does.
// A leading "?" (autoload off) does not change the type; a ".s" suffix on the first
// component, and "syscall", mark a sleepable program.
func parseSection(sec string) sectionInfo {
	sec = strings.TrimPrefix(sec, "?")
	head, rest, _ := strings.Cut(sec, "/")
	info := sectionInfo{kind: head}
	if h, ok := strings.CutSuffix(head, ".s"); ok {
		head, info.sleepable, info.kind = h, true, h
	}
	if head == "syscall" {
		info.sleepable = true
	}
	if t, ok := sectionHeads[head]; ok {
		info.typ = t
		return info
	}
	if head == "cgroup" {
		sub, _, _ := strings.Cut(rest, "/")
		info.kind = "cgroup/" + sub
		switch {
		case sub == "skb":
			info.typ = CgroupSKB
		case sub == "sysctl":
			info.typ = CgroupSysctl
		case sub == "getsockopt" || sub == "setsockopt":
			info.typ = CgroupSockopt
		case sub == "dev":
			info.typ = CgroupDevice
		case strings.HasPrefix(sub, "sock") || strings.HasPrefix(sub, "post_bind"):
			info.typ = CgroupSock
		case strings.HasPrefix(sub, "bind") || strings.HasPrefix(sub, "connect") ||
			strings.HasPrefix(sub, "sendmsg") || strings.HasPrefix(sub, "recvmsg") ||
			strings.HasPrefix(sub, "getpeername") || strings.HasPrefix(sub, "getsockname"):
			info.typ = CgroupSockAddr
		}
		return info
	}
	switch {
	case strings.HasPrefix(head, "sk_skb"):
		info.typ = SKSKB
	case strings.HasPrefix(head, "sk_reuseport"):
		info.typ = SKReuseport
	case strings.HasPrefix(head, "xdp"):
		info.typ = XDP
	}
	return info
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
