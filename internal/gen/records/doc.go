// SPDX-License-Identifier: Apache-2.0

// Package records is the generated skeleton of bpf/testdata/realworld/events.bpf.o with
// the record types of its ring buffer and perf event array given (-type MAP=TYPE): its
// tests read typed events through the readers the skeleton's Load makes, from the kernel.
package records

//go:generate go run github.com/bpfkit/bpfkit/cmd/bpfkit gen -package records -type events=event,perf_events=event -output records.skel.go ../../../bpf/testdata/realworld/events.bpf.o
