package loader

import (
	"fmt"
	"runtime"
	"syscall"
	"time"
	"unsafe"

	"golang.org/x/sys/unix"
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

// testRunAttr mirrors the BPF_PROG_TEST_RUN part of union bpf_attr.
type testRunAttr struct {
	progFD      uint32
	retval      uint32
	dataSizeIn  uint32
	dataSizeOut uint32
	dataIn      uint64
	dataOut     uint64
	repeat      uint32
	duration    uint32
	ctxSizeIn   uint32
	ctxSizeOut  uint32
	ctxIn       uint64
	ctxOut      uint64
	flags       uint32
	cpu         uint32
	batchSize   uint32
	_           uint32
}

const bpfProgTestRun = 10

// Test runs the loaded program in the kernel without attaching it (BPF_PROG_TEST_RUN),
// for the program types that support it (XDP, tc, socket filter, flow dissector,
// raw_tp, syscall, …). It may be called from several goroutines at once.
//
// The kernel stops a repeated run with EINTR when a signal is pending, without saying
// how many runs it did, and the Go runtime signals its threads all the time (SIGURG for
// preemption). So the run is made on a locked thread with signals blocked: it is never
// cut short, and a signal sent to the process meanwhile is delivered when it ends.
func (p *Program) Test(opts *TestOptions) (TestResult, error) {
	fd, err := p.FD()
	if err != nil {
		return TestResult{}, err
	}
	var o TestOptions
	if opts != nil {
		o = *opts
	}
	attr := testRunAttr{progFD: uint32(fd), repeat: o.Repeat, flags: o.Flags, cpu: o.CPU}
	var out []byte
	if len(o.Data) > 0 {
		attr.dataIn = uint64(uintptr(unsafe.Pointer(&o.Data[0])))
		attr.dataSizeIn = uint32(len(o.Data))
		n := o.DataOutSize
		if n == 0 {
			n = len(o.Data) + 256
		}
		out = make([]byte, n)
		attr.dataOut = uint64(uintptr(unsafe.Pointer(&out[0])))
		attr.dataSizeOut = uint32(n)
	}
	if len(o.Context) > 0 {
		attr.ctxIn = uint64(uintptr(unsafe.Pointer(&o.Context[0])))
		attr.ctxSizeIn = uint32(len(o.Context))
	}
	var errno syscall.Errno
	withSignalsBlocked(func() {
		_, _, errno = unix.Syscall(unix.SYS_BPF, bpfProgTestRun, uintptr(unsafe.Pointer(&attr)), unsafe.Sizeof(attr))
	})
	runtime.KeepAlive(o.Data)
	runtime.KeepAlive(o.Context)
	runtime.KeepAlive(out)
	if errno != 0 {
		return TestResult{}, wrapErrno(fmt.Sprintf("test run of program %q of %s", p.name, p.obj.name), syscall.Errno(errno))
	}
	res := TestResult{Retval: attr.retval, Duration: time.Duration(attr.duration)}
	if out != nil {
		res.DataOut = out[:attr.dataSizeOut]
	}
	return res, nil
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
