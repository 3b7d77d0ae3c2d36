// SPDX-License-Identifier: Apache-2.0

package loader_test

import (
	"context"
	"errors"
	"fmt"
	"log"
	"os"

	"github.com/cilium/ebpf"

	"github.com/bpfkit/bpfkit/bpf"
	"github.com/bpfkit/bpfkit/bpf/examples"
	"github.com/bpfkit/bpfkit/loader"
	"github.com/bpfkit/bpfkit/loader/tracepipe"
	"github.com/bpfkit/bpfkit/maps"
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
			log.Fatalf("%+v", ve) // where, why, and the whole verifier log
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

// What bcc's tools set before Load: a stack-trace map that declares only its key size
// gets its value size (frames × 8) and capacity from the tool's options.
func ExampleMap_SetValueSize() {
	obj, err := loader.Open("../bpf/testdata/realworld/stacks.bpf.o", nil)
	if err != nil {
		log.Fatal(err)
	}
	defer obj.Close()
	stacks, err := obj.Map("stackmap")
	if err != nil {
		log.Fatal(err)
	}
	const depth = 127 // frames per stack
	if err := stacks.SetValueSize(depth * 8); err != nil {
		log.Fatal(err)
	}
	if err := stacks.SetMaxEntries(1024); err != nil {
		log.Fatal(err)
	}
	if err := obj.Load(); err != nil {
		var le *loader.LoadError
		if errors.As(err, &le) { // libbpf refused it: which map or program, and its words
			log.Fatalf("map %q program %q: %s", le.Map, le.Program, le.Libbpf)
		}
		log.Fatal(err)
	}
	fmt.Println(stacks.ValueSize(), stacks.MaxEntries())
}

// A program in a section no libbpf knows (a load balancer's SEC("tc_packet_hook0")) is
// typed by its loader before Load; without it libbpf says "missing BPF prog type".
func ExampleProgram_SetType() {
	obj, err := loader.Open("../bpf/testdata/realworld/customsec.bpf.o", nil)
	if err != nil {
		log.Fatal(err)
	}
	defer obj.Close()
	for name, typ := range map[string]ebpf.ProgramType{"tc_packet_func": ebpf.SchedCLS, "xdp_packet_func": ebpf.XDP} {
		prog, err := obj.Program(name)
		if err != nil {
			log.Fatal(err)
		}
		if err := prog.SetType(typ); err != nil {
			log.Fatal(err)
		}
	}
	if err := obj.Load(); err != nil {
		log.Fatal(err)
	}
	for _, p := range obj.Programs() {
		fmt.Printf("%s in %s: %s\n", p.Name(), p.Section(), p.Type())
	}
}

// A map another process pinned, by path, into a typed accessor.
func ExampleOpenPinnedMap() {
	m, err := loader.OpenPinnedMap("/sys/fs/bpf/shared_counts")
	if err != nil {
		log.Fatal(err)
	}
	defer m.Close()
	type counter struct {
		Packets uint64
		Flags   uint32
		LastLen uint32
	}
	counts, err := maps.NewHash[uint32, counter](m) // checked against the map's own BTF
	if err != nil {
		log.Fatal(err)
	}
	c, err := counts.Lookup(1)
	if err != nil {
		log.Fatal(err)
	}
	fmt.Println(c.Packets)
}
