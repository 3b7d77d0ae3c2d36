// SPDX-License-Identifier: Apache-2.0

//go:build cgo

package loader

import (
	"bytes"
	"fmt"

	"github.com/cilium/ebpf"
	"golang.org/x/sys/unix"

	"github.com/bpfkit/bpfkit/internal/sys"
	"github.com/bpfkit/bpfkit/maps"
)

// OpenPinnedMap opens the map pinned at path on a BPF file system (BPF_OBJ_GET): one
// that Map.Pin pinned, or libbpf for LIBBPF_PIN_BY_NAME (Options.PinRoot), in this
// process or another. The result works with the typed accessors of package maps, which
// check their Go types against the BTF the kernel holds for the map (that of the object
// that created it): maps.NewHash[K, V](m). The caller owns it and must Close it.
func OpenPinnedMap(path string) (*maps.FDMap, error) {
	fd, err := openPinned(path, sys.KindMap)
	if err != nil {
		return nil, fmt.Errorf("opening pinned map %s: %w", path, err)
	}
	defer unix.Close(fd)
	m, err := maps.FromFD(fd) // a duplicate of fd
	if err != nil {
		return nil, fmt.Errorf("opening pinned map %s: %w", path, err)
	}
	return m, nil
}

// openPinned opens the pin at path and checks that it holds an object of kind.
func openPinned(path string, kind sys.Kind) (int, error) {
	fd, err := sys.ObjGet(path)
	if err != nil {
		return -1, err
	}
	k, _, err := sys.FDKind(fd)
	if err == nil && k != kind {
		err = fmt.Errorf("it holds a BPF %s, not a %s", k, kind)
	}
	if err != nil {
		unix.Close(fd)
		return -1, err
	}
	return fd, nil
}

// PinnedProgram is a loaded program opened from its pin by OpenPinnedProgram, outside
// any Object: it can be test-run and handed on by descriptor. It owns its descriptor:
// Close it; its methods return ErrClosed afterwards.
type PinnedProgram struct {
	slot
	path string
	info sys.ProgInfo
	leak *sys.Leak
}

// OpenPinnedProgram opens the program pinned at path on a BPF file system (BPF_OBJ_GET),
// for example by Program.Pin in another process.
func OpenPinnedProgram(path string) (*PinnedProgram, error) {
	fd, err := openPinned(path, sys.KindProgram)
	if err != nil {
		return nil, fmt.Errorf("opening pinned program %s: %w", path, err)
	}
	info, err := sys.ObjProgInfo(fd)
	if err != nil {
		unix.Close(fd)
		return nil, fmt.Errorf("opening pinned program %s: reading its info: %w", path, err)
	}
	p := &PinnedProgram{path: path, info: info}
	p.slot.Init(func() error { return fmt.Errorf("pinned program %s: %w", path, ErrClosed) })
	p.slot.Set(sys.NewFD(fd))
	p.leak = sys.TrackLeak(p, "loader.PinnedProgram", path, "its descriptor stays open until the process exits", nil)
	return p, nil
}

// Name returns the program's name as the kernel has it (at most 15 bytes of its C name).
func (p *PinnedProgram) Name() string {
	n, _, _ := bytes.Cut(p.info.Name[:], []byte{0})
	return string(n)
}

// Type returns the program's type.
func (p *PinnedProgram) Type() ebpf.ProgramType { return ebpf.ProgramType(p.info.Type) }

// ID returns the program's kernel ID.
func (p *PinnedProgram) ID() uint32 { return p.info.ID }

// FD returns the program's descriptor, owned by p: valid until Close, ErrClosed after.
func (p *PinnedProgram) FD() (int, error) {
	f := p.slot.Load()
	if f.Closed() {
		return -1, p.slot.Err()
	}
	return f.Raw(), nil
}

// Test runs the program in the kernel (BPF_PROG_TEST_RUN), as Program.Test does.
func (p *PinnedProgram) Test(opts *TestOptions) (TestResult, error) {
	return testRun(p.slot.Load(), opts, "test run of pinned program "+p.path, p.slot.Err)
}

// Close closes the descriptor once no operation is in flight on it (the pin stays). It
// is idempotent and nil-safe.
func (p *PinnedProgram) Close() error {
	if p == nil {
		return nil
	}
	p.leak.Closed()
	if err := p.slot.Load().Close(); err != nil {
		return fmt.Errorf("closing pinned program %s: %w", p.path, err)
	}
	return nil
}
