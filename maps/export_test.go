// SPDX-License-Identifier: Apache-2.0

package maps

import "errors"

// FakeMap is a Map whose Info is given and that never has a descriptor: every operation
// fails, and FDCalls counts the attempts. It lets the pure tests check construction, and
// proves that some errors come before any syscall.
type FakeMap struct {
	slot
	info    Info
	FDCalls int
}

// NewFakeMap makes a FakeMap of info.
func NewFakeMap(info Info) *FakeMap {
	f := &FakeMap{info: info}
	f.slot.Init(func() error { f.FDCalls++; return errors.New("fake map has no fd") })
	return f
}

// Info returns the given Info.
func (f *FakeMap) Info() (Info, error) { return f.info, nil }
