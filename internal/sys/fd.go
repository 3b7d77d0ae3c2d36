// SPDX-License-Identifier: Apache-2.0

package sys

import (
	"io"
	"sync"
	"sync/atomic"

	"golang.org/x/sys/unix"
)

// FD is a kernel object's file descriptor under bpfkit's lifetime rule: the number is
// never closed while an operation on it is in flight, and no operation starts on it once
// Close has begun. So a handle used while its owner closes either completes on its own
// object or fails; it can never reach the object that reuses the number next.
//
// An operation brackets its use of the number with Acquire and Release: two atomic
// additions, no lock and no allocation. Close marks the FD closing (Acquire fails from
// then on), waits until the operations in flight have released it, and only then closes
// the number (or, for a descriptor libbpf owns, lets the caller hand it back to libbpf).
//
// Dependents (ring and perf buffer readers made from a map) are closed first, while the
// number is still usable, so that their own teardown may still use it.
type FD struct {
	raw   int
	owned bool         // Close closes raw; otherwise its owner (libbpf) does, after Close
	state atomic.Int64 // closing bit | operations in flight
	done  chan struct{}

	mu         sync.Mutex
	deps       map[uint64]func() io.Closer
	nextDep    uint64
	depsClosed bool
}

const closing = 1 << 62

// NewFD wraps a descriptor the FD owns: Close closes it.
func NewFD(raw int) *FD { return &FD{raw: raw, owned: true, done: make(chan struct{}, 1)} }

// BorrowFD wraps a descriptor that another owner (libbpf) closes: Close only stops and
// waits for the operations on it, after which the owner may close it.
func BorrowFD(raw int) *FD { return &FD{raw: raw, done: make(chan struct{}, 1)} }

// Acquire returns the descriptor for one operation, which must end with Release, or
// false when the FD is closing or closed (then Release must not be called).
func (f *FD) Acquire() (int, bool) {
	if f.state.Add(1)&closing != 0 {
		f.Release()
		return -1, false
	}
	return f.raw, true
}

// Release ends an operation begun by Acquire.
func (f *FD) Release() {
	if f.state.Add(-1) == closing {
		// the last operation in flight of a closing FD: wake Close
		select {
		case f.done <- struct{}{}:
		default:
		}
	}
}

// Raw returns the descriptor's number without starting an operation: for callers that
// hand it to users, who take on the lifetime rule themselves.
func (f *FD) Raw() int { return f.raw }

// Closed reports whether Close has begun.
func (f *FD) Closed() bool { return f.state.Load()&closing != 0 }

// Close closes the dependents, stops new operations, waits for those in flight and then,
// if the FD owns its descriptor, closes it. It is idempotent; a second Close returns at
// once, possibly before the first has finished.
func (f *FD) Close() error {
	f.closeDependents()
	old := f.state.Or(closing)
	if old&closing != 0 {
		return nil
	}
	if old != 0 {
		<-f.done
	}
	if f.owned {
		return unix.Close(f.raw)
	}
	return nil
}

// AddDependent registers something that must be closed before the descriptor: get
// returns it, or nil once it is gone (it is held weakly, so that an abandoned reader
// can still be collected and reported). It returns a function that unregisters it, or
// false when the FD is already closing.
func (f *FD) AddDependent(get func() io.Closer) (remove func(), ok bool) {
	f.mu.Lock()
	defer f.mu.Unlock()
	if f.depsClosed || f.Closed() {
		return nil, false
	}
	if f.deps == nil {
		f.deps = map[uint64]func() io.Closer{}
	}
	for id, get := range f.deps {
		if get() == nil {
			delete(f.deps, id) // collected without Close: its leak detector reported it
		}
	}
	f.nextDep++
	id := f.nextDep
	f.deps[id] = get
	return func() {
		f.mu.Lock()
		delete(f.deps, id)
		f.mu.Unlock()
	}, true
}

// Dependents returns how many dependents are registered (for tests).
func (f *FD) Dependents() int {
	f.mu.Lock()
	defer f.mu.Unlock()
	return len(f.deps)
}

func (f *FD) closeDependents() {
	f.mu.Lock()
	deps := f.deps
	f.deps, f.depsClosed = nil, true
	f.mu.Unlock()
	for _, get := range deps {
		if c := get(); c != nil {
			_ = c.Close()
		}
	}
}

// Slot is the part of a handle (*loader.Map, *maps.FDMap) that holds its FD once there
// is one: a loader map has none before Load. Embedding it makes the handle an Owner.
type Slot struct {
	fd     atomic.Pointer[FD]
	absent func() error
}

// Owner is implemented by the handles that embed a Slot. Its only method is unexported,
// so an interface that embeds Owner (maps.Map) can only be implemented by them: every
// map an accessor uses has a descriptor under the lifetime rule.
type Owner interface{ sysSlot() *Slot }

func (s *Slot) sysSlot() *Slot { return s }

// SlotOf returns the Slot of an Owner.
func SlotOf(o Owner) *Slot { return o.sysSlot() }

// Init sets the function that explains why the Slot has no usable FD: not loaded yet,
// or closed. It is called before the Slot is shared.
func (s *Slot) Init(absent func() error) { s.absent = absent }

// Set stores the FD (once, at Load or construction).
func (s *Slot) Set(f *FD) { s.fd.Store(f) }

// FD returns the FD, or the owner's error when there is none yet.
func (s *Slot) FD() (*FD, error) {
	if f := s.fd.Load(); f != nil {
		return f, nil
	}
	return nil, s.Err()
}

// Load returns the FD, or nil when there is none yet: the hot path's form of FD.
func (s *Slot) Load() *FD { return s.fd.Load() }

// Err returns the owner's explanation of why no operation can start: ErrClosed (wrapped
// with its name) once it is closed, not loaded before Load.
func (s *Slot) Err() error {
	if s.absent == nil {
		return ErrClosed
	}
	return s.absent()
}
