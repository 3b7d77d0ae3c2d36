package maps

import (
	"context"
	"fmt"

	"golang.org/x/sys/unix"
)

// poller is what the ring and perf buffer readers block in: an epoll set holding their
// descriptors and an eventfd through which Close or a cancelled context wakes them.
type poller struct {
	epfd, wakefd int
	events       []unix.EpollEvent
}

// newPoller makes the epoll set and the eventfd. On error nothing is left open.
func newPoller() (*poller, error) {
	p := &poller{epfd: -1, wakefd: -1}
	var err error
	if p.epfd, err = unix.EpollCreate1(unix.EPOLL_CLOEXEC); err != nil {
		return nil, fmt.Errorf("epoll_create1: %w", err)
	}
	if p.wakefd, err = unix.Eventfd(0, unix.EFD_CLOEXEC|unix.EFD_NONBLOCK); err != nil {
		p.close()
		return nil, fmt.Errorf("eventfd: %w", err)
	}
	if err := p.add(p.wakefd); err != nil {
		p.close()
		return nil, err
	}
	return p, nil
}

// add watches fd for input.
func (p *poller) add(fd int) error {
	if err := unix.EpollCtl(p.epfd, unix.EPOLL_CTL_ADD, fd, &unix.EpollEvent{Events: unix.EPOLLIN, Fd: int32(fd)}); err != nil {
		return fmt.Errorf("epoll_ctl: %w", err)
	}
	p.events = append(p.events, unix.EpollEvent{})
	return nil
}

// wait sleeps until a watched descriptor has input, ctx is done or wake is called.
func (p *poller) wait(ctx context.Context) error {
	if ctx.Done() != nil {
		stop := context.AfterFunc(ctx, p.wake)
		defer stop()
	}
	for {
		_, err := unix.EpollWait(p.epfd, p.events, -1)
		if err == unix.EINTR {
			continue
		}
		if err != nil {
			return fmt.Errorf("epoll_wait: %w", err)
		}
		var buf [8]byte
		unix.Read(p.wakefd, buf[:]) // drain; EAGAIN when a map woke us
		return nil
	}
}

// wake makes a wait return.
func (p *poller) wake() {
	one := [8]byte{1}
	unix.Write(p.wakefd, one[:])
}

// close releases the descriptors; nil-safe.
func (p *poller) close() {
	if p == nil {
		return
	}
	if p.epfd >= 0 {
		unix.Close(p.epfd)
		p.epfd = -1
	}
	if p.wakefd >= 0 {
		unix.Close(p.wakefd)
		p.wakefd = -1
	}
}
