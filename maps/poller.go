// SPDX-License-Identifier: Apache-2.0

package maps

import (
	"context"
	"fmt"
	"io"
	"sync/atomic"
	"weak"

	"golang.org/x/sys/unix"

	"github.com/bpfkit/bpfkit/internal/sys"
)

// poller is what the ring and perf buffer readers block in: an epoll set holding their
// descriptors and an eventfd through which Close or a cancelled context wakes them. Both
// descriptors follow the lifetime rule (sys.FD): a wake that races with close (a context
// cancelled as the reader closes) never writes to a descriptor number reused since.
//
// Closing is two steps, because a woken reader may loop and wait again before the epoll
// set is closed: stop sets stopped and wakes, and every wait checks stopped before it
// sleeps and after it wakes; a wait that drained the eventfd after stop wakes it again for
// the next. So no wait sleeps once stop has run, and close can wait for them all to leave.
type poller struct {
	ep, wakeFD *sys.FD
	events     []unix.EpollEvent
	stopped    atomic.Bool
}

// newPoller makes the epoll set and the eventfd. On error nothing is left open.
func newPoller() (*poller, error) {
	epfd, err := unix.EpollCreate1(unix.EPOLL_CLOEXEC)
	if err != nil {
		return nil, fmt.Errorf("epoll_create1: %w", err)
	}
	wfd, err := unix.Eventfd(0, unix.EFD_CLOEXEC|unix.EFD_NONBLOCK)
	if err != nil {
		unix.Close(epfd)
		return nil, fmt.Errorf("eventfd: %w", err)
	}
	p := &poller{ep: sys.NewFD(epfd), wakeFD: sys.NewFD(wfd)}
	if err := p.add(wfd); err != nil {
		p.close()
		return nil, err
	}
	return p, nil
}

// add watches fd for input.
func (p *poller) add(fd int) error {
	epfd, ok := p.ep.Acquire()
	if !ok {
		return ErrClosed
	}
	defer p.ep.Release()
	if err := unix.EpollCtl(epfd, unix.EPOLL_CTL_ADD, fd, &unix.EpollEvent{Events: unix.EPOLLIN, Fd: int32(fd)}); err != nil {
		return fmt.Errorf("epoll_ctl: %w", err)
	}
	p.events = append(p.events, unix.EpollEvent{})
	return nil
}

// wait sleeps until a watched descriptor has input, ctx is done or wake is called. After
// stop it returns ErrClosed.
func (p *poller) wait(ctx context.Context) error {
	if ctx.Done() != nil {
		stop := context.AfterFunc(ctx, p.wake)
		defer stop()
	}
	epfd, ok := p.ep.Acquire()
	if !ok {
		return ErrClosed
	}
	defer p.ep.Release()
	if p.stopped.Load() {
		return ErrClosed
	}
	for {
		_, err := unix.EpollWait(epfd, p.events, -1)
		if err == unix.EINTR {
			continue
		}
		if err != nil {
			return fmt.Errorf("epoll_wait: %w", err)
		}
		if wfd, ok := p.wakeFD.Acquire(); ok {
			var buf [8]byte
			unix.Read(wfd, buf[:]) // drain; EAGAIN when a map woke us
			p.wakeFD.Release()
		}
		if p.stopped.Load() {
			p.wake() // what was drained may have been stop's wake: keep it for the others
			return ErrClosed
		}
		return nil
	}
}

// wake makes a wait return; after close it does nothing.
func (p *poller) wake() {
	if wfd, ok := p.wakeFD.Acquire(); ok {
		one := [8]byte{1}
		unix.Write(wfd, one[:])
		p.wakeFD.Release()
	}
}

// stop makes every wait, sleeping or to come, return ErrClosed.
func (p *poller) stop() {
	p.stopped.Store(true)
	p.wake()
}

// close stops the waits and releases the descriptors once none uses them; nil-safe.
// The epoll set goes first: the eventfd must stay in it until every woken wait has left.
func (p *poller) close() {
	if p == nil {
		return
	}
	p.stop()
	p.ep.Close()
	p.wakeFD.Close()
}

// own registers reader r as a dependent of the map's descriptor f, so that the map's
// owner closing (Object.Close, FDMap.Close) closes it first. The reader is held weakly:
// one dropped without Close is collected, and its leak detector reports it. It returns
// the function that unregisters it, or ErrClosed when the map is closing.
func own[T any, PT interface {
	*T
	io.Closer
}](f *sys.FD, r PT) (func(), error) {
	w := weak.Make((*T)(r))
	remove, ok := f.AddDependent(func() io.Closer {
		if v := w.Value(); v != nil {
			return PT(v)
		}
		return nil
	})
	if !ok {
		return nil, ErrClosed
	}
	return remove, nil
}
