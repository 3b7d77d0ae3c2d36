// SPDX-License-Identifier: Apache-2.0

package main

import (
	"context"
	"testing"

	"github.com/bpfkit/bpfkit/internal/testutil"
)

// TestCountsExactlyWhatItSent runs the example: every UDP packet it sends to its own port
// on 127.0.0.1 is counted once, with its bytes as XDP saw them, and nothing else is.
func TestCountsExactlyWhatItSent(t *testing.T) {
	testutil.RequirePrivileged(t)
	const packets, size = 500, 100
	res, err := run(context.Background(), Options{Interface: "lo", Packets: packets, Size: size})
	if err != nil {
		t.Fatal(err)
	}
	if res.Sent != packets || res.Received != packets {
		t.Fatalf("sent %d, received %d, want %d", res.Sent, res.Received, packets)
	}
	udp, ok := res.Counts[17]
	if !ok {
		t.Fatalf("no UDP counter; counters: %+v", res.Counts)
	}
	if udp.Packets != packets || udp.Bytes != packets*(headerBytes+size) {
		t.Fatalf("counted %d packets, %d bytes; want %d, %d", udp.Packets, udp.Bytes, packets, packets*(headerBytes+size))
	}
	if len(res.Counts) != 1 {
		t.Fatalf("counted other protocols on a port of our own: %+v", res.Counts)
	}
}
