module github.com/bpfkit/bpfkit

go 1.25.0

require (
	github.com/aquasecurity/libbpfgo v0.10.0-libbpf-1.5.1
	github.com/cilium/ebpf v0.22.0
	golang.org/x/sys v0.47.0
)
