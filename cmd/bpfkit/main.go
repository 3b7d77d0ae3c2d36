// SPDX-License-Identifier: Apache-2.0

// Command bpfkit is bpfkit's command line.
//
//	bpfkit check [--kernel X.Y] [--format text|json] OBJECT.o...
//
// check applies the bpf_spin_lock rules of a kernel version (default: the running
// kernel) to compiled BPF objects, without loading anything. It exits 0 when no object
// has an error finding, 1 when one has, 2 when an object cannot be read or the usage is
// wrong.
//
//	bpfkit gen [-package NAME] [-output FILE] [-type NAME|MAP=NAME]... OBJECT.bpf.o
//	bpfkit gen [same flags] [-cc CLANG] [-I DIR]... [-cflags FLAGS] [-vmlinux] SOURCE.bpf.c
//
// gen writes the typed Go skeleton of an object (see package internal/gen) to FILE
// (default STEM.skel.go; a .go file below the current directory, or an absolute path)
// and copies the object beside it for //go:embed, never through a symlink. -type NAME
// generates a Go type for a C type; -type MAP=NAME makes the field of a ring buffer or
// perf event array a typed reader of NAME records. Given a SOURCE.bpf.c, gen first
// compiles it into SOURCE.bpf.o beside it with clang -O2 -g -target bpf
// -D__TARGET_ARCH_… (and the host's include directories, which -target bpf drops);
// -vmlinux writes vmlinux.h beside the source from the running kernel's BTF when it is
// missing. The package defaults to $GOPACKAGE (set by go generate) for a skeleton
// written in the current directory. In a Go file:
//
//	//go:generate go run github.com/bpfkit/bpfkit/cmd/bpfkit gen -type events=event execsnoop.bpf.c
//
// It exits 0 when the skeleton is written (an unchanged file is left alone), 1 when the
// source does not compile or the object cannot be made into a skeleton, 2 when a file
// cannot be read or the usage is wrong.
package main

import (
	"fmt"
	"io"
	"os"
)

// Exit statuses.
const (
	exitOK       = 0
	exitFindings = 1
	exitUsage    = 2
)

const usage = `usage: bpfkit <command> [arguments]

commands:
  check [--kernel X.Y] [--format text|json] OBJECT.o...
        report the bpf_spin_lock uses a kernel would refuse, before loading
  gen [-package NAME] [-output FILE] [-type NAME|MAP=NAME]... OBJECT.bpf.o|SOURCE.bpf.c
        write a typed Go skeleton of the object (and copy the object beside it);
        a SOURCE.bpf.c is compiled first (see bpfkit gen -h)
`

func main() {
	os.Exit(run(os.Args[1:], os.Stdout, os.Stderr))
}

// run dispatches on the first argument (the subcommand) and returns the exit status.
func run(args []string, stdout, stderr io.Writer) int {
	if len(args) == 0 {
		fmt.Fprint(stderr, usage)
		return exitUsage
	}
	switch args[0] {
	case "check":
		return runCheck(args[1:], stdout, stderr)
	case "gen":
		return runGen(args[1:], stdout, stderr)
	case "help", "-h", "--help":
		fmt.Fprint(stdout, usage)
		return exitOK
	default:
		fmt.Fprintf(stderr, "bpfkit: unknown command %q\n%s", args[0], usage)
		return exitUsage
	}
}
