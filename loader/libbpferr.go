// SPDX-License-Identifier: Apache-2.0

package loader

// #include <bpf/libbpf.h>
import "C"

import (
	"errors"
	"syscall"
	"unsafe"
)

// libbpf's own error codes (enum libbpf_errno) start here; below are the kernel's errnos.
const libbpfErrnoStart = 4000

// LibbpfError is an error code of libbpf's own (enum libbpf_errno: 4000 and up, such as
// LIBBPF_ERRNO__FORMAT for a file that is not a BPF object), with libbpf's words for it
// (libbpf_strerror). It unwraps to the code as a syscall.Errno.
type LibbpfError struct {
	Errno syscall.Errno
	Text  string
}

func (e *LibbpfError) Error() string { return e.Text }

// Unwrap returns the code.
func (e *LibbpfError) Unwrap() error { return e.Errno }

// libbpfErr replaces, in err, a libbpf error code that would print as "errno 4001" by a
// *LibbpfError with libbpf's words; kernel errnos and other errors are returned as is.
func libbpfErr(err error) error {
	var errno syscall.Errno
	if !errors.As(err, &errno) || errno < libbpfErrnoStart {
		return err
	}
	return libbpfErrno(errno)
}

// libbpfErrno describes a positive error code: libbpf's words for its own codes, the
// errno itself otherwise.
func libbpfErrno(errno syscall.Errno) error {
	if errno < libbpfErrnoStart {
		return errno
	}
	var buf [128]C.char
	if C.libbpf_strerror(C.int(errno), &buf[0], C.size_t(len(buf))) != 0 {
		return errno
	}
	return &LibbpfError{Errno: errno, Text: "libbpf: " + C.GoString((*C.char)(unsafe.Pointer(&buf[0])))}
}
