// SPDX-License-Identifier: Apache-2.0

package sys

import (
	"strings"

	"github.com/cilium/ebpf"
)

// IsGlobalDataSection reports whether libbpf makes a global-data map of the ELF section:
// .bss, .data, .rodata and their named sub-sections (".data.foo", ".rodata.str1.1").
func IsGlobalDataSection(name string) bool {
	for _, p := range [...]string{".bss", ".data", ".rodata"} {
		if name == p || (strings.HasPrefix(name, p) && name[len(p)] == '.') {
			return true
		}
	}
	return false
}

// IsReadOnlySection reports whether a global-data section is one the kernel freezes at
// load (.rodata and its sub-sections).
func IsReadOnlySection(name string) bool {
	return name == ".rodata" || strings.HasPrefix(name, ".rodata.")
}

// ProgramSection is what a program's ELF section name tells libbpf about it.
type ProgramSection struct {
	// Type and AttachType are the program type and expected attach type.
	Type       ebpf.ProgramType
	AttachType ebpf.AttachType
	// Sleepable: a ".s" flavour ("fentry.s/…", "uprobe.s/…") or "syscall".
	Sleepable bool
	// AutoAttach: bpf_program__attach can attach the program from the section alone,
	// when the section names its target ("tp/syscalls/sys_enter_write", "fentry/fn").
	AutoAttach bool
	// Kind is the section's definition as libbpf spells it, without "+"
	// ("tp", "fentry.s", "cgroup/connect4"): the flavour, for messages.
	Kind string
}

// secDef is one entry of the section table: libbpf's section_defs[] (libbpf 1.4).
type secDef struct {
	name string // "kind" exact, "kind+" for "kind" or "kind/…"
	typ  ebpf.ProgramType
	att  ebpf.AttachType
	// target: how the section names an attach point when auto-attach is possible:
	// 0 never; 1 after a "/" (tp/cat/name, fentry/fn); 2 always (iter needs none)
	target int
}

// sectionDefs follows libbpf's section_defs[] order: the first definition that
// matches a section name wins.
var sectionDefs = []secDef{
	{"socket", ebpf.SocketFilter, 0, 0},
	{"sk_reuseport/migrate", ebpf.SkReuseport, ebpf.AttachSkReuseportSelectOrMigrate, 0},
	{"sk_reuseport", ebpf.SkReuseport, ebpf.AttachSkReuseportSelect, 0},
	{"kprobe+", ebpf.Kprobe, 0, 1},
	{"uprobe+", ebpf.Kprobe, 0, 1},
	{"uprobe.s+", ebpf.Kprobe, 0, 1},
	{"kretprobe+", ebpf.Kprobe, 0, 1},
	{"uretprobe+", ebpf.Kprobe, 0, 1},
	{"uretprobe.s+", ebpf.Kprobe, 0, 1},
	{"kprobe.multi+", ebpf.Kprobe, ebpf.AttachTraceKprobeMulti, 1},
	{"kretprobe.multi+", ebpf.Kprobe, ebpf.AttachTraceKprobeMulti, 1},
	{"kprobe.session+", ebpf.Kprobe, ebpf.AttachTraceKprobeSession, 1},
	{"uprobe.multi+", ebpf.Kprobe, ebpf.AttachTraceUprobeMulti, 1},
	{"uretprobe.multi+", ebpf.Kprobe, ebpf.AttachTraceUprobeMulti, 1},
	{"uprobe.multi.s+", ebpf.Kprobe, ebpf.AttachTraceUprobeMulti, 1},
	{"uretprobe.multi.s+", ebpf.Kprobe, ebpf.AttachTraceUprobeMulti, 1},
	{"ksyscall+", ebpf.Kprobe, 0, 1},
	{"kretsyscall+", ebpf.Kprobe, 0, 1},
	{"usdt+", ebpf.Kprobe, 0, 1},
	{"usdt.s+", ebpf.Kprobe, 0, 1},
	{"tc/ingress", ebpf.SchedCLS, ebpf.AttachTCXIngress, 0},
	{"tc/egress", ebpf.SchedCLS, ebpf.AttachTCXEgress, 0},
	{"tcx/ingress", ebpf.SchedCLS, ebpf.AttachTCXIngress, 0},
	{"tcx/egress", ebpf.SchedCLS, ebpf.AttachTCXEgress, 0},
	{"tc", ebpf.SchedCLS, 0, 0},
	{"classifier", ebpf.SchedCLS, 0, 0},
	{"action", ebpf.SchedACT, 0, 0},
	{"netkit/primary", ebpf.SchedCLS, ebpf.AttachNetkitPrimary, 0},
	{"netkit/peer", ebpf.SchedCLS, ebpf.AttachNetkitPeer, 0},
	{"tracepoint+", ebpf.TracePoint, 0, 1},
	{"tp+", ebpf.TracePoint, 0, 1},
	{"raw_tracepoint+", ebpf.RawTracepoint, 0, 1},
	{"raw_tp+", ebpf.RawTracepoint, 0, 1},
	{"raw_tracepoint.w+", ebpf.RawTracepointWritable, 0, 1},
	{"raw_tp.w+", ebpf.RawTracepointWritable, 0, 1},
	{"tp_btf+", ebpf.Tracing, ebpf.AttachTraceRawTp, 1},
	{"fentry+", ebpf.Tracing, ebpf.AttachTraceFEntry, 1},
	{"fmod_ret+", ebpf.Tracing, ebpf.AttachModifyReturn, 1},
	{"fexit+", ebpf.Tracing, ebpf.AttachTraceFExit, 1},
	{"fentry.s+", ebpf.Tracing, ebpf.AttachTraceFEntry, 1},
	{"fmod_ret.s+", ebpf.Tracing, ebpf.AttachModifyReturn, 1},
	{"fexit.s+", ebpf.Tracing, ebpf.AttachTraceFExit, 1},
	{"freplace+", ebpf.Extension, 0, 1},
	{"lsm+", ebpf.LSM, ebpf.AttachLSMMac, 1},
	{"lsm.s+", ebpf.LSM, ebpf.AttachLSMMac, 1},
	{"lsm_cgroup+", ebpf.LSM, ebpf.AttachLSMCgroup, 0},
	{"iter+", ebpf.Tracing, ebpf.AttachTraceIter, 2},
	{"iter.s+", ebpf.Tracing, ebpf.AttachTraceIter, 2},
	{"syscall", ebpf.Syscall, 0, 0},
	{"xdp.frags/devmap", ebpf.XDP, ebpf.AttachXDPDevMap, 0},
	{"xdp/devmap", ebpf.XDP, ebpf.AttachXDPDevMap, 0},
	{"xdp.frags/cpumap", ebpf.XDP, ebpf.AttachXDPCPUMap, 0},
	{"xdp/cpumap", ebpf.XDP, ebpf.AttachXDPCPUMap, 0},
	{"xdp.frags", ebpf.XDP, ebpf.AttachXDP, 0},
	{"xdp", ebpf.XDP, ebpf.AttachXDP, 0},
	{"perf_event", ebpf.PerfEvent, 0, 0},
	{"lwt_in", ebpf.LWTIn, 0, 0},
	{"lwt_out", ebpf.LWTOut, 0, 0},
	{"lwt_xmit", ebpf.LWTXmit, 0, 0},
	{"lwt_seg6local", ebpf.LWTSeg6Local, 0, 0},
	{"sockops", ebpf.SockOps, ebpf.AttachCGroupSockOps, 0},
	{"sk_skb/stream_parser", ebpf.SkSKB, ebpf.AttachSkSKBStreamParser, 0},
	{"sk_skb/stream_verdict", ebpf.SkSKB, ebpf.AttachSkSKBStreamVerdict, 0},
	{"sk_skb/verdict", ebpf.SkSKB, ebpf.AttachSkSKBVerdict, 0},
	{"sk_skb", ebpf.SkSKB, 0, 0},
	{"sk_msg", ebpf.SkMsg, ebpf.AttachSkMsgVerdict, 0},
	{"lirc_mode2", ebpf.LircMode2, ebpf.AttachLircMode2, 0},
	{"flow_dissector", ebpf.FlowDissector, ebpf.AttachFlowDissector, 0},
	{"cgroup_skb/ingress", ebpf.CGroupSKB, ebpf.AttachCGroupInetIngress, 0},
	{"cgroup_skb/egress", ebpf.CGroupSKB, ebpf.AttachCGroupInetEgress, 0},
	{"cgroup/skb", ebpf.CGroupSKB, 0, 0},
	{"cgroup/sock_create", ebpf.CGroupSock, ebpf.AttachCGroupInetSockCreate, 0},
	{"cgroup/sock_release", ebpf.CGroupSock, ebpf.AttachCgroupInetSockRelease, 0},
	{"cgroup/sock", ebpf.CGroupSock, ebpf.AttachCGroupInetSockCreate, 0},
	{"cgroup/post_bind4", ebpf.CGroupSock, ebpf.AttachCGroupInet4PostBind, 0},
	{"cgroup/post_bind6", ebpf.CGroupSock, ebpf.AttachCGroupInet6PostBind, 0},
	{"cgroup/bind4", ebpf.CGroupSockAddr, ebpf.AttachCGroupInet4Bind, 0},
	{"cgroup/bind6", ebpf.CGroupSockAddr, ebpf.AttachCGroupInet6Bind, 0},
	{"cgroup/connect4", ebpf.CGroupSockAddr, ebpf.AttachCGroupInet4Connect, 0},
	{"cgroup/connect6", ebpf.CGroupSockAddr, ebpf.AttachCGroupInet6Connect, 0},
	{"cgroup/connect_unix", ebpf.CGroupSockAddr, ebpf.AttachCgroupUnixConnect, 0},
	{"cgroup/sendmsg4", ebpf.CGroupSockAddr, ebpf.AttachCGroupUDP4Sendmsg, 0},
	{"cgroup/sendmsg6", ebpf.CGroupSockAddr, ebpf.AttachCGroupUDP6Sendmsg, 0},
	{"cgroup/sendmsg_unix", ebpf.CGroupSockAddr, ebpf.AttachCgroupUnixSendmsg, 0},
	{"cgroup/recvmsg4", ebpf.CGroupSockAddr, ebpf.AttachCGroupUDP4Recvmsg, 0},
	{"cgroup/recvmsg6", ebpf.CGroupSockAddr, ebpf.AttachCGroupUDP6Recvmsg, 0},
	{"cgroup/recvmsg_unix", ebpf.CGroupSockAddr, ebpf.AttachCgroupUnixRecvmsg, 0},
	{"cgroup/getpeername4", ebpf.CGroupSockAddr, ebpf.AttachCgroupInet4GetPeername, 0},
	{"cgroup/getpeername6", ebpf.CGroupSockAddr, ebpf.AttachCgroupInet6GetPeername, 0},
	{"cgroup/getpeername_unix", ebpf.CGroupSockAddr, ebpf.AttachCgroupUnixGetpeername, 0},
	{"cgroup/getsockname4", ebpf.CGroupSockAddr, ebpf.AttachCgroupInet4GetSockname, 0},
	{"cgroup/getsockname6", ebpf.CGroupSockAddr, ebpf.AttachCgroupInet6GetSockname, 0},
	{"cgroup/getsockname_unix", ebpf.CGroupSockAddr, ebpf.AttachCgroupUnixGetsockname, 0},
	{"cgroup/sysctl", ebpf.CGroupSysctl, ebpf.AttachCGroupSysctl, 0},
	{"cgroup/getsockopt", ebpf.CGroupSockopt, ebpf.AttachCGroupGetsockopt, 0},
	{"cgroup/setsockopt", ebpf.CGroupSockopt, ebpf.AttachCGroupSetsockopt, 0},
	{"cgroup/dev", ebpf.CGroupDevice, ebpf.AttachCGroupDevice, 0},
	{"struct_ops+", ebpf.StructOps, 0, 0},
	{"struct_ops.s+", ebpf.StructOps, 0, 0},
	{"sk_lookup", ebpf.SkLookup, ebpf.AttachSkLookup, 0},
	{"netfilter", ebpf.Netfilter, ebpf.AttachNetfilter, 0},
}

// ParseProgramSection resolves a program's section name as libbpf does, and reports
// false for a name libbpf does not know (it then refuses to open the object, unless a
// custom section handler claims it). A leading '?' (autoload off) is ignored.
func ParseProgramSection(sec string) (ProgramSection, bool) {
	sec = strings.TrimPrefix(sec, "?")
	for _, d := range sectionDefs {
		kind, plus := strings.CutSuffix(d.name, "+")
		rest := ""
		switch {
		case sec == kind:
		case plus && strings.HasPrefix(sec, kind+"/"):
			rest = sec[len(kind)+1:]
		default:
			continue
		}
		ps := ProgramSection{Type: d.typ, AttachType: d.att, Kind: kind}
		ps.Sleepable = kind == "syscall" || strings.HasSuffix(kind, ".s")
		ps.AutoAttach = d.target == 2 || (d.target == 1 && rest != "")
		return ps, true
	}
	return ProgramSection{}, false
}
