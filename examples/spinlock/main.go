// SPDX-License-Identifier: Apache-2.0

// Command spinlock attaches an XDP program (generic mode) to an interface, sends a known
// number of UDP packets to 127.0.0.1, and prints the packets and bytes the program
// counted per IP protocol, read with maps' LookupLocked: the program updates each
// counter's two fields under its bpf_spin_lock, and the locked lookup copies them under
// the same lock, so packets and bytes always belong together.
//
//	sudo go run ./examples/spinlock -packets 1000 -size 100
package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"log"
	"net"
	"os"
	"syscall"
	"time"

	bpfexamples "github.com/bpfkit/bpfkit/bpf/examples"
	"github.com/bpfkit/bpfkit/loader"
	"github.com/bpfkit/bpfkit/maps"
)

// Counter is struct counter of bpf/examples/spinlock.bpf.c.
type Counter struct {
	Lock    maps.SpinLock
	_       uint32
	Packets uint64
	Bytes   uint64
}

// Options say what to send and where to count it.
type Options struct {
	Interface string // where the XDP program is attached; traffic to 127.0.0.1 crosses "lo"
	Packets   int    // UDP packets to send
	Size      int    // UDP payload bytes per packet
}

// Result is what one run sent and what the program counted.
type Result struct {
	Port     int
	Sent     int
	Received int                // packets the UDP listener got
	Counts   map[uint32]Counter // by IP protocol number
}

// headerBytes is what XDP sees of a UDP packet on lo beyond its payload: Ethernet (14),
// IPv4 (20) and UDP (8) headers.
const headerBytes = 14 + 20 + 8

func run(ctx context.Context, opts Options) (*Result, error) {
	// The listener's port, chosen by the kernel, is the only port the program counts.
	conn, err := net.ListenUDP("udp4", &net.UDPAddr{IP: net.IPv4(127, 0, 0, 1)})
	if err != nil {
		return nil, err
	}
	defer conn.Close()
	port := conn.LocalAddr().(*net.UDPAddr).Port

	obj, err := loader.OpenBytes("spinlock.bpf.o", bpfexamples.SpinLock, nil)
	if err != nil {
		return nil, err
	}
	defer obj.Close()
	if err := obj.SetGlobal("port", uint16(port)); err != nil {
		return nil, err
	}
	if err := obj.Load(); err != nil {
		return nil, err
	}
	prog, err := obj.Program("count_packets")
	if err != nil {
		return nil, err
	}
	// An interface takes one XDP program: if another holds it (EBUSY), wait a while for
	// it to go (tests of other packages may attach to lo at the same time).
	link, err := prog.AttachXDP(opts.Interface, &loader.XDPOptions{Mode: loader.XDPGeneric})
	for deadline := time.Now().Add(15 * time.Second); errors.Is(err, syscall.EBUSY) && time.Now().Before(deadline); {
		time.Sleep(50 * time.Millisecond)
		link, err = prog.AttachXDP(opts.Interface, &loader.XDPOptions{Mode: loader.XDPGeneric})
	}
	if err != nil {
		return nil, err
	}
	defer link.Close()
	m, err := obj.Map("counters")
	if err != nil {
		return nil, err
	}
	counters, err := maps.NewHash[uint32, Counter](m)
	if err != nil {
		return nil, err
	}

	res := &Result{Port: port, Counts: map[uint32]Counter{}}
	out, err := net.DialUDP("udp4", nil, conn.LocalAddr().(*net.UDPAddr))
	if err != nil {
		return nil, err
	}
	defer out.Close()
	payload := make([]byte, opts.Size)
	buf := make([]byte, opts.Size+1)
	for i := range opts.Packets {
		payload[0] = byte(i)
		if _, err := out.Write(payload); err != nil {
			return nil, fmt.Errorf("sending packet %d: %w", i, err)
		}
		res.Sent++
		// Read each packet back, so none is dropped for want of socket buffer.
		conn.SetReadDeadline(time.Now().Add(2 * time.Second))
		if _, _, err := conn.ReadFromUDP(buf); err != nil {
			return res, fmt.Errorf("receiving packet %d: %w", i, err)
		}
		res.Received++
		if err := ctx.Err(); err != nil {
			return res, err
		}
	}

	it := counters.Iterate()
	for proto := range it.Keys() {
		c, err := counters.LookupLocked(proto)
		if errors.Is(err, maps.ErrKeyNotExist) {
			continue
		}
		if err != nil {
			return res, err
		}
		res.Counts[proto] = c
	}
	return res, it.Err()
}

func main() {
	var opts Options
	flag.StringVar(&opts.Interface, "iface", "lo", "interface to attach the XDP program to (generic mode)")
	flag.IntVar(&opts.Packets, "packets", 1000, "UDP packets to send to 127.0.0.1")
	flag.IntVar(&opts.Size, "size", 100, "UDP payload bytes per packet")
	flag.Parse()
	log.SetFlags(0)
	if opts.Packets < 0 || opts.Size < 1 {
		log.Fatal("spinlock: -packets must be ≥ 0 and -size ≥ 1")
	}
	res, err := run(context.Background(), opts)
	if err != nil {
		log.Fatalf("spinlock: %v", err)
	}
	fmt.Printf("sent %d UDP packets of %d payload bytes to 127.0.0.1:%d (received %d)\n", res.Sent, opts.Size, res.Port, res.Received)
	fmt.Printf("%-8s %10s %12s\n", "proto", "packets", "bytes")
	for proto, c := range res.Counts {
		fmt.Printf("%-8s %10d %12d\n", protoName(proto), c.Packets, c.Bytes)
	}
	if c := res.Counts[17]; c.Packets != uint64(res.Sent) {
		fmt.Fprintf(os.Stderr, "counted %d UDP packets, sent %d\n", c.Packets, res.Sent)
		os.Exit(1)
	}
}

func protoName(p uint32) string {
	switch p {
	case 1:
		return "icmp"
	case 6:
		return "tcp"
	case 17:
		return "udp"
	}
	return fmt.Sprint(p)
}
