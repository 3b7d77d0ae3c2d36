// SPDX-License-Identifier: Apache-2.0

package loader

// #include <stdlib.h>
// #include <bpf/libbpf.h>
import "C"

import (
	"fmt"
	"syscall"
	"unsafe"
)

// logBuffer is a C buffer given to libbpf for one program's verifier log when
// Options.LogSize is set.
type logBuffer struct {
	prog *Program
	buf  *C.char
}

// setLogBuffers gives each program a verifier log buffer of Options.LogSize bytes.
// The caller holds o.mu for writing.
func (o *Object) setLogBuffers() error {
	if o.opts.LogSize == 0 {
		return nil
	}
	for _, p := range o.progs {
		buf := (*C.char)(C.calloc(1, C.size_t(o.opts.LogSize)))
		if buf == nil {
			return fmt.Errorf("loading %s: allocating a %d-byte verifier log: %w", o.name, o.opts.LogSize, syscall.ENOMEM)
		}
		o.logBufs = append(o.logBufs, &logBuffer{prog: p, buf: buf})
		if rc := C.bpf_program__set_log_buf(p.cp, buf, C.size_t(o.opts.LogSize)); rc < 0 {
			return fmt.Errorf("loading %s: setting the verifier log of program %q: %w", o.name, p.name, syscall.Errno(-rc))
		}
	}
	return nil
}

// takeLogBuffers returns the non-empty logs of the programs' own buffers, by program
// name, and frees the buffers (libbpf does not use them after load).
func (o *Object) takeLogBuffers() map[string]string {
	logs := map[string]string{}
	for _, lb := range o.logBufs {
		if s := C.GoString(lb.buf); s != "" {
			logs[lb.prog.name] = s
		}
	}
	o.freeLogBuffers()
	return logs
}

func (o *Object) freeLogBuffers() {
	for _, lb := range o.logBufs {
		if !o.closed.Load() {
			C.bpf_program__set_log_buf(lb.prog.cp, nil, 0)
		}
		C.free(unsafe.Pointer(lb.buf))
	}
	o.logBufs = nil
}
