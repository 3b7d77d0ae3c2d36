// SPDX-License-Identifier: Apache-2.0

package sys

import (
	"runtime"
	"unsafe"

	"golang.org/x/sys/unix"
)

// TestRunAttr is the BPF_PROG_TEST_RUN part of union bpf_attr. Data and context are given
// as slices; ProgTestRun fills the output fields.
type TestRunAttr struct {
	progFD      uint32
	Retval      uint32 // out: the program's return value
	dataSizeIn  uint32
	DataSizeOut uint32 // in: room in DataOut; out: bytes written
	dataIn      uint64
	dataOut     uint64
	Repeat      uint32
	Duration    uint32 // out: mean ns per run
	ctxSizeIn   uint32
	ctxSizeOut  uint32
	ctxIn       uint64
	ctxOut      uint64
	Flags       uint32
	CPU         uint32
	BatchSize   uint32
	_           uint32
}

// ProgTestRun runs program fd once or attr.Repeat times on data (and ctx) without
// attaching it (BPF_PROG_TEST_RUN); the output packet goes to out.
//
// The kernel stops a repeated run with EINTR when a signal is pending, without saying
// how many runs it did, and the Go runtime signals its threads all the time (SIGURG for
// preemption). So the run is made on a locked thread with signals blocked: it is never
// cut short, and a signal sent to the process meanwhile is delivered when it ends.
func ProgTestRun(fd int, attr *TestRunAttr, data, out, ctx []byte) error {
	attr.progFD = uint32(fd)
	var errno unix.Errno
	withSignalsBlocked(func() {
		// the pointers become integers here, after this function's stack check
		if len(data) > 0 {
			attr.dataIn = uint64(uintptr(unsafe.Pointer(&data[0])))
			attr.dataSizeIn = uint32(len(data))
		}
		if len(out) > 0 {
			attr.dataOut = uint64(uintptr(unsafe.Pointer(&out[0])))
			attr.DataSizeOut = uint32(len(out))
		}
		if len(ctx) > 0 {
			attr.ctxIn = uint64(uintptr(unsafe.Pointer(&ctx[0])))
			attr.ctxSizeIn = uint32(len(ctx))
		}
		_, errno = bpf(unix.BPF_PROG_TEST_RUN, unsafe.Pointer(attr), unsafe.Sizeof(*attr))
	})
	runtime.KeepAlive(data)
	runtime.KeepAlive(out)
	runtime.KeepAlive(ctx)
	if errno != 0 {
		return errno
	}
	return nil
}

// withSignalsBlocked runs fn on a locked OS thread whose signals are blocked, so that a
// signal-interruptible syscall in fn is not interrupted.
func withSignalsBlocked(fn func()) {
	runtime.LockOSThread()
	defer runtime.UnlockOSThread()
	var all, old unix.Sigset_t
	for i := range all.Val {
		all.Val[i] = ^uint64(0)
	}
	if err := unix.PthreadSigmask(unix.SIG_BLOCK, &all, &old); err != nil {
		fn()
		return
	}
	defer func() { _ = unix.PthreadSigmask(unix.SIG_SETMASK, &old, nil) }()
	fn()
}
