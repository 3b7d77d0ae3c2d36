// SPDX-License-Identifier: Apache-2.0

package loader

// #include <stdlib.h>
// #include <bpf/libbpf.h>
import "C"

import "unsafe"

// libbpfSectionTypes asks libbpf which program and expected attach type a section name
// gives (libbpf_prog_type_by_name); ok is false for a name libbpf does not know. It
// prints nothing for an unknown name only when called under withLibbpf with a sink.
func libbpfSectionTypes(sec string) (prog, attach uint32, ok bool) {
	cs := C.CString(sec)
	defer C.free(unsafe.Pointer(cs))
	var pt C.enum_bpf_prog_type
	var at C.enum_bpf_attach_type
	var rc C.int
	var sink logSink
	withLibbpf(&sink, func() { rc = C.libbpf_prog_type_by_name(cs, &pt, &at) })
	if rc != 0 {
		return 0, 0, false
	}
	return uint32(pt), uint32(at), true
}
