// SPDX-License-Identifier: Apache-2.0

package loader_test

import (
	"context"
	"errors"
	"fmt"
	"log"
	"os"

	"github.com/bpfkit/bpfkit/bpf"
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

// Programs whose section names no target are attached one at a time.
func ExampleProgram_AttachXDP() {
	obj, err := loader.Open("counter.bpf.o", nil)
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
