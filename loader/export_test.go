// SPDX-License-Identifier: Apache-2.0

package loader

// SectionFinalizersRun is how many times the finalizer of section memory has detached a
// mapping, for the test that drops an Object without Close.
func SectionFinalizersRun() int64 { return sectionFinalizers.Load() }

// LibbpfSectionTypes is libbpfSectionTypes, for the test that holds internal/sys's
// section table against libbpf's.
func LibbpfSectionTypes(sec string) (prog, attach uint32, ok bool) { return libbpfSectionTypes(sec) }
