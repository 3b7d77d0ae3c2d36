// SPDX-License-Identifier: Apache-2.0

package maps

import (
	"errors"

	"github.com/bpfkit/bpfkit/internal/sys"
)

var (
	// ErrKeyNotExist is returned when a key is not in the map (the kernel's ENOENT), when
	// a queue or stack is empty, and when a bloom filter lookup misses. The errno is wrapped
	// too: errors.Is(err, unix.ENOENT) also holds.
	ErrKeyNotExist = errors.New("key does not exist")
	// ErrKeyExist is returned by Update with UpdateNoExist when the key is already present
	// (the kernel's EEXIST, also wrapped).
	ErrKeyExist = errors.New("key already exists")
	// ErrNoLock is returned, before any syscall, by the *Locked operations on a map whose
	// value has no struct bpf_spin_lock in its BTF (the kernel would only say EINVAL).
	ErrNoLock = errors.New("map value holds no bpf_spin_lock")
	// ErrClosed is returned by accessors and readers whose map or owner has been closed.
	// It is the same error as loader.ErrClosed.
	ErrClosed = sys.ErrClosed
	// ErrLayout is wrapped by every error of the type check done at construction: the Go
	// type is not plain data, its size differs from the map's, or its layout differs from
	// the map's BTF. The error's text names the type, the map and the first differing field.
	ErrLayout = sys.ErrLayout
	// ErrNotSupported is wrapped when the running kernel is too old for an operation;
	// the error names the kernel version it needs. It is the same error as
	// loader.ErrNotSupported.
	ErrNotSupported = sys.ErrNotSupported
	// ErrMapType is wrapped when an accessor is constructed on a map of another type
	// (for example NewHash on an array).
	ErrMapType = errors.New("wrong map type for this accessor")
)
