// SPDX-License-Identifier: Apache-2.0

//go:build cgo

package loader

import (
	"fmt"
	"syscall"
	"time"

	"github.com/bpfkit/bpfkit/internal/sys"
)

// TestOptions configure Program.Test (BPF_PROG_TEST_RUN).
type TestOptions struct {
	Data        []byte // the packet (XDP, tc, socket filter …); nil for program types that take none
	DataOutSize int    // room for the output packet; 0 means len(Data)+256 when Data is set
	Context     []byte // the program's context (struct xdp_md, __sk_buff, or a syscall program's args)
	Repeat      uint32 // how many times to run; 0 and 1 both run once
	Flags       uint32 // BPF_F_TEST_* flags
	CPU         uint32 // with BPF_F_TEST_RUN_ON_CPU
}

// TestResult is what one Program.Test returned.
type TestResult struct {
	Retval   uint32        // the program's return value (of the last run)
	Duration time.Duration // the kernel's mean time per run
	DataOut  []byte        // the packet after the program, if Data was given
}

// Test runs the loaded program in the kernel without attaching it (BPF_PROG_TEST_RUN),
// for the program types that support it (XDP, tc, socket filter, flow dissector,
// raw_tp, syscall, …). It may be called from several goroutines at once.
//
// The kernel stops a repeated run with EINTR when a signal is pending, without saying
// how many runs it did, and the Go runtime signals its threads all the time (SIGURG for
// preemption). So the run is made on a locked thread with signals blocked: it is never
// cut short, and a signal sent to the process meanwhile is delivered when it ends.
func (p *Program) Test(opts *TestOptions) (TestResult, error) {
	return testRun(p.slot.Load(), opts, fmt.Sprintf("test run of program %q of %s", p.name, p.obj.name), p.noFD)
}

// testRun runs the program behind f (nil before Load) with BPF_PROG_TEST_RUN; op names
// it for errors, noFD explains a missing or closed descriptor.
func testRun(f *sys.FD, opts *TestOptions, op string, noFD func() error) (TestResult, error) {
	var o TestOptions
	if opts != nil {
		o = *opts
	}
	var out []byte
	if len(o.Data) > 0 {
		n := o.DataOutSize
		if n == 0 {
			n = len(o.Data) + 256
		}
		out = make([]byte, n)
	}
	if f == nil {
		return TestResult{}, noFD()
	}
	fd, ok := f.Acquire()
	if !ok {
		return TestResult{}, noFD()
	}
	attr := sys.TestRunAttr{Repeat: o.Repeat, Flags: o.Flags, CPU: o.CPU}
	err := sys.ProgTestRun(fd, &attr, o.Data, out, o.Context)
	f.Release()
	if err != nil {
		return TestResult{}, wrapErrno(op, err.(syscall.Errno))
	}
	res := TestResult{Retval: attr.Retval, Duration: time.Duration(attr.Duration)}
	if out != nil {
		res.DataOut = out[:attr.DataSizeOut]
	}
	return res, nil
}
