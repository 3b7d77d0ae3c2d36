package loader

import "strconv"

// Code below mirrors enum bpf_prog_type and enum bpf_attach_type of
// include/uapi/linux/bpf.h (Linux 6.18); the values are the kernel's.

// ProgramType is a kernel program type (enum bpf_prog_type), as libbpf resolved it
// from the program's section name.
type ProgramType uint32

// The kernel's program types.
const (
	ProgramTypeUnspec                ProgramType = 0
	ProgramTypeSocketFilter          ProgramType = 1
	ProgramTypeKprobe                ProgramType = 2
	ProgramTypeSchedCls              ProgramType = 3
	ProgramTypeSchedAct              ProgramType = 4
	ProgramTypeTracepoint            ProgramType = 5
	ProgramTypeXDP                   ProgramType = 6
	ProgramTypePerfEvent             ProgramType = 7
	ProgramTypeCgroupSKB             ProgramType = 8
	ProgramTypeCgroupSock            ProgramType = 9
	ProgramTypeLWTIn                 ProgramType = 10
	ProgramTypeLWTOut                ProgramType = 11
	ProgramTypeLWTXmit               ProgramType = 12
	ProgramTypeSockOps               ProgramType = 13
	ProgramTypeSKSKB                 ProgramType = 14
	ProgramTypeCgroupDevice          ProgramType = 15
	ProgramTypeSKMsg                 ProgramType = 16
	ProgramTypeRawTracepoint         ProgramType = 17
	ProgramTypeCgroupSockAddr        ProgramType = 18
	ProgramTypeLWTSeg6Local          ProgramType = 19
	ProgramTypeLircMode2             ProgramType = 20
	ProgramTypeSKReuseport           ProgramType = 21
	ProgramTypeFlowDissector         ProgramType = 22
	ProgramTypeCgroupSysctl          ProgramType = 23
	ProgramTypeRawTracepointWritable ProgramType = 24
	ProgramTypeCgroupSockopt         ProgramType = 25
	ProgramTypeTracing               ProgramType = 26
	ProgramTypeStructOps             ProgramType = 27
	ProgramTypeExt                   ProgramType = 28
	ProgramTypeLSM                   ProgramType = 29
	ProgramTypeSKLookup              ProgramType = 30
	ProgramTypeSyscall               ProgramType = 31
	ProgramTypeNetfilter             ProgramType = 32
)

var programTypeNames = [...]string{
	"unspec",
	"socket_filter",
	"kprobe",
	"sched_cls",
	"sched_act",
	"tracepoint",
	"xdp",
	"perf_event",
	"cgroup_skb",
	"cgroup_sock",
	"lwt_in",
	"lwt_out",
	"lwt_xmit",
	"sock_ops",
	"sk_skb",
	"cgroup_device",
	"sk_msg",
	"raw_tracepoint",
	"cgroup_sock_addr",
	"lwt_seg6local",
	"lirc_mode2",
	"sk_reuseport",
	"flow_dissector",
	"cgroup_sysctl",
	"raw_tracepoint_writable",
	"cgroup_sockopt",
	"tracing",
	"struct_ops",
	"ext",
	"lsm",
	"sk_lookup",
	"syscall",
	"netfilter",
}

// String returns the kernel's name for the type in lower case, e.g. "tracepoint".
func (t ProgramType) String() string { return enumName(programTypeNames[:], uint32(t), "prog_type") }

// AttachType is a kernel attach type (enum bpf_attach_type): the expected attach type
// libbpf derived from the section name. Many program types have none (0).
type AttachType uint32

// The kernel's attach types.
const (
	AttachCgroupInetIngress          AttachType = 0
	AttachCgroupInetEgress           AttachType = 1
	AttachCgroupInetSockCreate       AttachType = 2
	AttachCgroupSockOps              AttachType = 3
	AttachSKSKBStreamParser          AttachType = 4
	AttachSKSKBStreamVerdict         AttachType = 5
	AttachCgroupDevice               AttachType = 6
	AttachSKMsgVerdict               AttachType = 7
	AttachCgroupInet4Bind            AttachType = 8
	AttachCgroupInet6Bind            AttachType = 9
	AttachCgroupInet4Connect         AttachType = 10
	AttachCgroupInet6Connect         AttachType = 11
	AttachCgroupInet4PostBind        AttachType = 12
	AttachCgroupInet6PostBind        AttachType = 13
	AttachCgroupUDP4Sendmsg          AttachType = 14
	AttachCgroupUDP6Sendmsg          AttachType = 15
	AttachLircMode2                  AttachType = 16
	AttachFlowDissector              AttachType = 17
	AttachCgroupSysctl               AttachType = 18
	AttachCgroupUDP4Recvmsg          AttachType = 19
	AttachCgroupUDP6Recvmsg          AttachType = 20
	AttachCgroupGetsockopt           AttachType = 21
	AttachCgroupSetsockopt           AttachType = 22
	AttachTraceRawTP                 AttachType = 23
	AttachTraceFentry                AttachType = 24
	AttachTraceFexit                 AttachType = 25
	AttachModifyReturn               AttachType = 26
	AttachLSMMAC                     AttachType = 27
	AttachTraceIter                  AttachType = 28
	AttachCgroupInet4Getpeername     AttachType = 29
	AttachCgroupInet6Getpeername     AttachType = 30
	AttachCgroupInet4Getsockname     AttachType = 31
	AttachCgroupInet6Getsockname     AttachType = 32
	AttachXDPDevMap                  AttachType = 33
	AttachCgroupInetSockRelease      AttachType = 34
	AttachXDPCPUMap                  AttachType = 35
	AttachSKLookup                   AttachType = 36
	AttachXDP                        AttachType = 37
	AttachSKSKBVerdict               AttachType = 38
	AttachSKReuseportSelect          AttachType = 39
	AttachSKReuseportSelectOrMigrate AttachType = 40
	AttachPerfEvent                  AttachType = 41
	AttachTraceKprobeMulti           AttachType = 42
	AttachLSMCgroup                  AttachType = 43
	AttachStructOps                  AttachType = 44
	AttachNetfilter                  AttachType = 45
	AttachTCXIngress                 AttachType = 46
	AttachTCXEgress                  AttachType = 47
	AttachTraceUprobeMulti           AttachType = 48
	AttachCgroupUnixConnect          AttachType = 49
	AttachCgroupUnixSendmsg          AttachType = 50
	AttachCgroupUnixRecvmsg          AttachType = 51
	AttachCgroupUnixGetpeername      AttachType = 52
	AttachCgroupUnixGetsockname      AttachType = 53
	AttachNetkitPrimary              AttachType = 54
	AttachNetkitPeer                 AttachType = 55
	AttachTraceKprobeSession         AttachType = 56
)

var attachTypeNames = [...]string{
	"cgroup_inet_ingress",
	"cgroup_inet_egress",
	"cgroup_inet_sock_create",
	"cgroup_sock_ops",
	"sk_skb_stream_parser",
	"sk_skb_stream_verdict",
	"cgroup_device",
	"sk_msg_verdict",
	"cgroup_inet4_bind",
	"cgroup_inet6_bind",
	"cgroup_inet4_connect",
	"cgroup_inet6_connect",
	"cgroup_inet4_post_bind",
	"cgroup_inet6_post_bind",
	"cgroup_udp4_sendmsg",
	"cgroup_udp6_sendmsg",
	"lirc_mode2",
	"flow_dissector",
	"cgroup_sysctl",
	"cgroup_udp4_recvmsg",
	"cgroup_udp6_recvmsg",
	"cgroup_getsockopt",
	"cgroup_setsockopt",
	"trace_raw_tp",
	"trace_fentry",
	"trace_fexit",
	"modify_return",
	"lsm_mac",
	"trace_iter",
	"cgroup_inet4_getpeername",
	"cgroup_inet6_getpeername",
	"cgroup_inet4_getsockname",
	"cgroup_inet6_getsockname",
	"xdp_devmap",
	"cgroup_inet_sock_release",
	"xdp_cpumap",
	"sk_lookup",
	"xdp",
	"sk_skb_verdict",
	"sk_reuseport_select",
	"sk_reuseport_select_or_migrate",
	"perf_event",
	"trace_kprobe_multi",
	"lsm_cgroup",
	"struct_ops",
	"netfilter",
	"tcx_ingress",
	"tcx_egress",
	"trace_uprobe_multi",
	"cgroup_unix_connect",
	"cgroup_unix_sendmsg",
	"cgroup_unix_recvmsg",
	"cgroup_unix_getpeername",
	"cgroup_unix_getsockname",
	"netkit_primary",
	"netkit_peer",
	"trace_kprobe_session",
}

// String returns the kernel's name for the attach type in lower case, e.g. "trace_fentry".
func (t AttachType) String() string { return enumName(attachTypeNames[:], uint32(t), "attach_type") }

// enumName returns names[v], or kind(v) for a value newer than the table.
func enumName(names []string, v uint32, kind string) string {
	if int(v) < len(names) {
		return names[v]
	}
	return kind + "(" + strconv.FormatUint(uint64(v), 10) + ")"
}
