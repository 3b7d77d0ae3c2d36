// SPDX-License-Identifier: Apache-2.0

// Package tracepipe reads the kernel's trace pipe, where bpf_printk writes, as Records.
// It is pure Go (no cgo): a program that only reads what BPF programs print need not
// link libbpf.
//
//	pipe, err := tracepipe.Open(&tracepipe.Options{Instance: "myapp"})
//	defer pipe.Close()
//	rec, err := pipe.Read(ctx) // rec.Message is what the program printed
//
// Reading the global trace_pipe consumes its lines for every reader on the machine; an
// Instance gives this Pipe its own copy of every bpf_printk line. Reading needs root (or
// read access to tracefs); Open mounts tracefs when it is missing.
package tracepipe

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"golang.org/x/sys/unix"

	"github.com/bpfkit/bpfkit/internal/sys"
)

// ErrClosed is returned by Read after Close (also while Read is blocked). It is the same
// error as loader.ErrClosed.
var ErrClosed = sys.ErrClosed

// Options configure Open. A nil *Options means the defaults.
type Options struct {
	// Instance, if not empty, reads from a tracefs instance of the Pipe's own instead of
	// the global trace_pipe: Open creates instances/bpfkit-PID-START-N-Instance (PID and
	// START identify this process, N this Pipe) with the bpf_trace_printk event enabled,
	// and Close removes it. Instance may hold letters, digits, '-' and '_'. Instances
	// left behind by processes that died without Close are removed by the next Open that
	// makes one.
	Instance string
	// NoMount stops Open from mounting tracefs when it is not mounted.
	NoMount bool
}

// Pipe reads the kernel's trace pipe. Read it from one goroutine at a time (a second
// Read waits for the first); Close may be called from any goroutine, and wakes a
// blocked Read, which returns ErrClosed. Close it to release the file and remove the
// instance it made; a Pipe dropped without Close is reported by a leak detector when
// it is collected, and its instance removed then.
type Pipe struct {
	mu      sync.Mutex // held by Read; Close takes it to release the file
	closed  atomic.Bool
	pipe    *sys.FD // trace_pipe
	poll    *waker
	res     *pipeRes
	leak    *sys.Leak
	pending []byte     // the start of a line not yet complete
	buf     [4096]byte // what one read(2) fills
}

// pipeRes is what a Pipe holds outside the Go heap; it does not point back at the Pipe,
// so the leak detector can free it.
type pipeRes struct {
	once     sync.Once
	pipe     *sys.FD
	poll     *waker
	instance string // the instance directory Open made, or ""
	stale    error  // why Open could not remove some stale instances
	err      error
}

func (r *pipeRes) release() error {
	r.once.Do(func() {
		if r.pipe != nil {
			if err := r.pipe.Close(); err != nil {
				r.err = fmt.Errorf("closing the trace pipe: %w", err)
			}
		}
		r.poll.close()
		if r.instance != "" {
			if err := removeInstance(r.instance); err != nil && r.err == nil {
				r.err = err
			}
		}
	})
	return r.err
}

// pollInterval bounds how long Read waits in poll(2) before it looks at the pipe again:
// a safety net, since Close and a cancelled context wake it at once.
const pollInterval = 250 * time.Millisecond

// Open opens the trace pipe, mounting tracefs if needed (unless opts.NoMount).
func Open(opts *Options) (*Pipe, error) {
	var o Options
	if opts != nil {
		o = *opts
	}
	root, err := tracefsRoot(!o.NoMount)
	if err != nil {
		return nil, fmt.Errorf("opening the trace pipe: %w", err)
	}
	res := &pipeRes{}
	fail := func(err error) (*Pipe, error) {
		res.release()
		return nil, fmt.Errorf("opening the trace pipe: %w", err)
	}
	if res.poll, err = newWaker(); err != nil {
		return fail(err)
	}
	dir := root
	if o.Instance != "" {
		if !validLabel(o.Instance) {
			return fail(fmt.Errorf("instance name %q may only hold letters, digits, '-' and '_'", o.Instance))
		}
		var stale error
		if dir, stale, err = makeInstance(root, o.Instance); err != nil {
			return fail(err)
		}
		res.instance, res.stale = dir, stale
	}
	path := filepath.Join(dir, "trace_pipe")
	fd, err := unix.Open(path, unix.O_RDONLY|unix.O_NONBLOCK|unix.O_CLOEXEC, 0)
	if err != nil {
		return fail(fmt.Errorf("%s: %w", path, err))
	}
	res.pipe = sys.NewFD(fd)
	p := &Pipe{pipe: res.pipe, poll: res.poll, res: res}
	name := "global trace_pipe"
	if res.instance != "" {
		name = "instance " + filepath.Base(res.instance)
	}
	p.leak = sys.TrackLeak(p, "tracepipe.Pipe", name, "its file is closed and its instance removed now", func() { res.release() })
	return p, nil
}

// Instance returns the directory of the tracefs instance the Pipe reads, or "" when it
// reads the global trace_pipe.
func (p *Pipe) Instance() string { return p.res.instance }

// Stale returns why Open could not remove some instances left behind by processes that
// died without Close (a reader still holds one open, tracefs refused …), naming each; nil
// when it removed them all or made no instance. The Pipe works either way.
func (p *Pipe) Stale() error { return p.res.stale }

// Read returns the next record, waiting for one until ctx is done (then it returns
// ctx.Err()) or the Pipe is closed (ErrClosed). Lines that are not trace records (the
// kernel's "CPU:N [LOST n EVENTS]" notes) are returned with only Raw and Message set.
func (p *Pipe) Read(ctx context.Context) (Record, error) {
	if p == nil {
		return Record{}, fmt.Errorf("reading the trace pipe: %w", ErrClosed)
	}
	p.mu.Lock()
	defer p.mu.Unlock()
	if ctx.Done() != nil {
		stop := context.AfterFunc(ctx, p.poll.wake)
		defer stop()
	}
	for {
		if p.closed.Load() {
			return Record{}, fmt.Errorf("reading the trace pipe: %w", ErrClosed)
		}
		if i := bytes.IndexByte(p.pending, '\n'); i >= 0 {
			line := string(p.pending[:i])
			p.pending = p.pending[i+1:]
			if strings.TrimSpace(line) == "" {
				continue
			}
			return Parse(line), nil
		}
		if err := ctx.Err(); err != nil {
			return Record{}, err
		}
		n, err := p.fill()
		switch {
		case errors.Is(err, ErrClosed):
			return Record{}, fmt.Errorf("reading the trace pipe: %w", ErrClosed)
		case err != nil:
			return Record{}, fmt.Errorf("reading the trace pipe: %w", err)
		}
		p.pending = append(p.pending, p.buf[:n]...)
	}
}

// fill waits for the pipe (or a wake) and reads what is there into p.buf. The pipe's
// descriptor is held for the whole wait and read, so Close cannot close it, and another
// file cannot take its number, in between.
func (p *Pipe) fill() (int, error) {
	fd, ok := p.pipe.Acquire()
	if !ok {
		return 0, ErrClosed
	}
	defer p.pipe.Release()
	if err := p.poll.wait(fd, pollInterval); err != nil {
		return 0, err
	}
	n, err := unix.Read(fd, p.buf[:])
	switch {
	case errors.Is(err, unix.EAGAIN), errors.Is(err, unix.EINTR):
		return 0, nil
	case err != nil:
		return 0, err
	case n < 0:
		return 0, nil
	}
	return n, nil
}

// Close closes the pipe and removes the instance Open made; a Read blocked in another
// goroutine returns ErrClosed. It is idempotent and nil-safe.
func (p *Pipe) Close() error {
	if p == nil || p.closed.Swap(true) {
		return nil
	}
	p.leak.Closed()
	p.poll.wake()
	p.mu.Lock() // wait for a Read in progress to see closed and return
	defer p.mu.Unlock()
	return p.res.release()
}

// waker is an eventfd that Close and a cancelled context write to, so that a Read
// blocked in poll(2) on the pipe returns at once.
type waker struct{ fd *sys.FD }

func newWaker() (*waker, error) {
	fd, err := unix.Eventfd(0, unix.EFD_CLOEXEC|unix.EFD_NONBLOCK)
	if err != nil {
		return nil, fmt.Errorf("eventfd: %w", err)
	}
	return &waker{fd: sys.NewFD(fd)}, nil
}

// wait polls fd and the eventfd for input, for at most timeout, and drains the eventfd.
func (w *waker) wait(fd int, timeout time.Duration) error {
	efd, ok := w.fd.Acquire()
	if !ok {
		return ErrClosed
	}
	defer w.fd.Release()
	fds := []unix.PollFd{{Fd: int32(fd), Events: unix.POLLIN}, {Fd: int32(efd), Events: unix.POLLIN}}
	if _, err := unix.Poll(fds, int(timeout/time.Millisecond)); err != nil && !errors.Is(err, unix.EINTR) {
		return fmt.Errorf("poll: %w", err)
	}
	if fds[1].Revents != 0 {
		var b [8]byte
		unix.Read(efd, b[:])
	}
	return nil
}

// wake makes a wait return; after close it does nothing.
func (w *waker) wake() {
	if efd, ok := w.fd.Acquire(); ok {
		one := [8]byte{1}
		unix.Write(efd, one[:])
		w.fd.Release()
	}
}

func (w *waker) close() {
	if w != nil {
		w.fd.Close()
	}
}

// tracefs mount points, in the order the kernel documents them.
var tracefsRoots = []string{"/sys/kernel/tracing", "/sys/kernel/debug/tracing"}

// tracefsRoot returns where tracefs is mounted, mounting it on /sys/kernel/tracing when
// it is not and mount is true (needs CAP_SYS_ADMIN).
func tracefsRoot(mount bool) (string, error) {
	for _, dir := range tracefsRoots {
		if _, err := os.Stat(filepath.Join(dir, "trace_pipe")); err == nil {
			return dir, nil
		}
	}
	how := "run as root: mount -t tracefs tracefs /sys/kernel/tracing"
	if !mount {
		return "", fmt.Errorf("tracefs is not mounted (%s)", how)
	}
	if err := unix.Mount("tracefs", tracefsRoots[0], "tracefs", 0, ""); err != nil {
		return "", fmt.Errorf("tracefs is not mounted and mounting it failed: %w (%s)", err, how)
	}
	return tracefsRoots[0], nil
}
