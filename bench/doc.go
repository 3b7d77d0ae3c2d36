// SPDX-License-Identifier: Apache-2.0

// Package bench compares bpfkit's maps with the same operations, on the same maps and in
// the same run, through libbpf from C (cbench/mapbench.c, built with gcc when the
// benchmarks start), libbpfgo's raw map API and cilium/ebpf. It holds benchmarks only:
//
//	go test -run '^$' -bench . -benchmem ./bench/
//
// It lives apart from package maps because it imports libbpfgo (cgo), and maps must stay
// pure Go. Results and ratios are in docs/BENCHMARKS.md.
package bench
