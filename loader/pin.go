// SPDX-License-Identifier: Apache-2.0

//go:build cgo

package loader

import (
	"fmt"
	"path/filepath"
	"slices"
	"sync"

	"github.com/bpfkit/bpfkit/internal/sys"
)

// pins records the paths at which one map, program or link was pinned through its
// handle, so that Unpin removes only those, and only while they still hold this object.
type pins struct {
	mu    sync.Mutex
	paths []string
}

// pin pins the object behind f (of kind) at path. A path outside a BPF file system fails
// before anything is created; a failed pin leaves nothing behind and changes nothing
// for a later pin.
func (ps *pins) pin(f *sys.FD, path string) error {
	fd, ok := f.Acquire()
	if !ok {
		return ErrClosed
	}
	defer f.Release()
	if err := sys.Pin(fd, path); err != nil {
		return err
	}
	ps.mu.Lock()
	ps.paths = append(ps.paths, filepath.Clean(path))
	ps.mu.Unlock()
	return nil
}

// unpin removes the pin at path if this handle made it and it still holds this object
// (its kernel ID, read through f).
func (ps *pins) unpin(f *sys.FD, kind sys.Kind, path string) error {
	path = filepath.Clean(path)
	ps.mu.Lock()
	defer ps.mu.Unlock()
	i := slices.Index(ps.paths, path)
	if i < 0 {
		return fmt.Errorf("not pinned at %s by this object: %w", path, ErrNotFound)
	}
	fd, ok := f.Acquire()
	if !ok {
		return ErrClosed
	}
	id, err := sys.ObjID(fd)
	f.Release()
	if err != nil {
		return err
	}
	ps.paths = slices.Delete(ps.paths, i, i+1)
	if err := sys.Unpin(path, kind, id); err != nil {
		return fmt.Errorf("%w (left in place)", err)
	}
	return nil
}
