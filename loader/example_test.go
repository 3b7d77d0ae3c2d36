// SPDX-License-Identifier: Apache-2.0

package loader_test

import (
	"context"
	"errors"
	"fmt"
	"log"
	"os"

	"github.com/bpfkit/bpfkit/bpf"
	"github.com/bpfkit/bpfkit/bpf/examples"
	"github.com/bpfkit/bpfkit/loader"
	"github.com/bpfkit/bpfkit/loader/tracepipe"
)

// The C skeleton's lifecycle, step by step: open, set a global, load, attach, destroy.
func Example() {
	obj, err := loader.OpenBytes("minimal.bpf.o", bpf.Minimal, nil)
	if err != nil {
		log.Fatal(err)
	}
	defer obj.Close() // links first, then the object

	// skel->bss->my_pid = getpid(): the Go value's size must match the C variable's.
	if err := obj.SetGlobal("my_pid", int32(os.Getpid())); err != nil {
		log.Fatal(err)
	}
	if err := obj.Load(); err != nil {
		var ve *loader.VerifierError
		if errors.As(err, &ve) {
			log.Fatalf("%s rejected: %s\n%s", ve.Program, ve.Message, ve.Log)
		}
		log.Fatal(err)
	}
	if err := obj.Attach(); err != nil { // every program whose section names its target
		log.Fatal(err)
	}

	pipe, err := tracepipe.Open(nil)
	if err != nil {
		log.Fatal(err)
	}
	defer pipe.Close()
	rec, err := pipe.Read(context.Background())
	if err != nil {
		log.Fatal(err)
	}
	fmt.Println(rec.Message)
}

// Programs whose section names no target are attached one at a time: here the XDP
// program of examples/spinlock, embedded by package bpf/examples.
func ExampleProgram_AttachXDP() {
	obj, err := loader.OpenBytes("spinlock.bpf.o", examples.SpinLock, nil)
	if err != nil {
		log.Fatal(err)
	}
	defer obj.Close()
	if err := obj.Load(); err != nil {
		log.Fatal(err)
	}
	prog, err := obj.Program("count_packets")
	if err != nil {
		log.Fatal(err) // the error lists the programs that exist
	}
	link, err := prog.AttachXDP("lo", &loader.XDPOptions{Mode: loader.XDPGeneric})
	if err != nil {
		log.Fatal(err)
	}
	defer link.Close() // or leave it to obj.Close
}

// Opening an object sends nothing to the kernel (no privileges needed): its programs,
// maps and global variables can be listed, and the globals set, before Load.
func ExampleOpenBytes() {
	obj, err := loader.OpenBytes("minimal.bpf.o", bpf.Minimal, nil)
	if err != nil {
		log.Fatal(err)
	}
	defer obj.Close()
	for _, p := range obj.Programs() {
		fmt.Printf("program %s: section %s, type %s\n", p.Name(), p.Section(), p.Type())
	}
	for _, m := range obj.Maps() {
		fmt.Printf("map %s: section %s, type %s, value %d bytes\n", m.Name(), m.Section(), m.Type(), m.ValueSize())
	}
	// The Go value must have the C variable's size and layout (int my_pid: 4 bytes).
	err = obj.SetGlobal("my_pid", int64(1))
	fmt.Println(errors.Is(err, loader.ErrLayout))
	err = obj.SetGlobal("no_such_global", int32(1))
	fmt.Println(errors.Is(err, loader.ErrNotFound))
	fmt.Println(obj.SetGlobal("my_pid", int32(1)))
	// Output:
	// program handle_tp: section tp/syscalls/sys_enter_write, type TracePoint
	// map minimal.bss: section .bss, type Array, value 4 bytes
	// map minimal.rodata: section .rodata, type Array, value 28 bytes
	// true
	// true
	// <nil>
}
