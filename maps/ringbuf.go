// SPDX-License-Identifier: Apache-2.0

package maps

import (
	"context"
	"fmt"
	"reflect"
	"sync"
	"sync/atomic"
	"unsafe"

	"github.com/cilium/ebpf"
	"golang.org/x/sys/unix"

	"github.com/bpfkit/bpfkit/internal/sys"
)

// Ring buffer record header (kernel include/uapi/linux/bpf.h).
const (
	ringbufBusyBit    = 1 << 31
	ringbufDiscardBit = 1 << 30
	ringbufHdrSize    = 8
)

// RingBuf reads typed events of type E from a BPF_MAP_TYPE_RINGBUF map (kernel 5.8+), as
// libbpf's ring_buffer__poll does: the consumer page is mapped read-write, the producer
// page and the data (mapped twice, so a record that wraps reads as one) read-only, and
// the reader sleeps in epoll only when the ring is empty. Each record must be exactly
// sizeof(E) bytes. One goroutine reads; Close may be called from any goroutine.
type RingBuf[E any] struct {
	base
	mu     sync.Mutex // held by the reader; Close takes it to unmap
	closed atomic.Bool
	cons   []byte // consumer page (RW)
	prod   []byte // producer page + 2×data (RO)
	data   []byte
	mask   uint64
	// pos is the reader's consumer position; published is what the kernel was last told
	// (the consumer page). Both are guarded by mu. See consume.
	pos, published uint64
	batchBytes     uint64  // publish at least every batchBytes consumed
	poll           *poller // the map's fd; Close and context cancellation wake it
	evsize         int

	res    *ringRes  // what Close, or the leak detector, frees
	leak   *sys.Leak // reports a reader collected without Close
	unlink func()    // unregisters the reader from its map's owner
}

// ringRes is what a RingBuf holds outside the Go heap. It does not point back at the
// reader, so the leak detector can free it.
type ringRes struct {
	once       sync.Once
	cons, prod []byte
	poll       *poller
}

func (res *ringRes) release() {
	res.once.Do(func() {
		if res.prod != nil {
			unix.Munmap(res.prod)
		}
		if res.cons != nil {
			unix.Munmap(res.cons)
		}
		res.poll.close()
	})
}

// NewRingBuf maps the ring buffer and checks E (plain data). The reader owns the
// mappings and an epoll and an eventfd descriptor, not the map; it belongs to the map's
// owner, whose Close closes it (a blocked Read then returns ErrClosed). Close it when
// done: one dropped without Close is reported by a leak detector when it is collected.
func NewRingBuf[E any](m Map) (*RingBuf[E], error) {
	h, err := newHandle(m, "maps.NewRingBuf", ebpf.RingBuf)
	if err != nil {
		return nil, err
	}
	et := reflect.TypeFor[E]()
	if err := sys.CheckPlain(et, ""); err != nil {
		return nil, fmt.Errorf("%w: Go event type %s for ring buffer %q: %v", ErrLayout, et, h.info.Name, err)
	}
	f, fd, err := h.acquire("maps.NewRingBuf")
	if err != nil {
		return nil, err
	}
	defer f.Release()
	size := int(h.info.MaxEntries)
	page := unix.Getpagesize()
	r := &RingBuf[E]{base: base{h}, evsize: int(et.Size()), mask: uint64(size - 1),
		batchBytes: uint64(min(size/8, 64<<10)), res: &ringRes{}}
	fail := func(what string, err error) (*RingBuf[E], error) {
		r.res.release()
		return nil, fmt.Errorf("maps.NewRingBuf on map %q: %s: %w", h.info.Name, what, err)
	}
	if r.cons, err = unix.Mmap(fd, 0, page, unix.PROT_READ|unix.PROT_WRITE, unix.MAP_SHARED); err != nil {
		return fail("mapping the consumer page", err)
	}
	r.res.cons = r.cons
	if r.prod, err = unix.Mmap(fd, int64(page), page+2*size, unix.PROT_READ, unix.MAP_SHARED); err != nil {
		return fail("mapping the producer page and data", err)
	}
	r.res.prod = r.prod
	r.data = r.prod[page:]
	if r.poll, err = newPoller(); err != nil {
		return fail("waiting set", err)
	}
	r.res.poll = r.poll
	if err := r.poll.add(fd); err != nil {
		return fail("watching the map", err)
	}
	if r.unlink, err = own(f, r); err != nil {
		return fail("registering with the map's owner", err)
	}
	r.leak = sys.TrackLeak(r, "maps.RingBuf", h.info.Name,
		"its mappings and descriptors are freed now, they kept the map alive until then", r.res.release)
	return r, nil
}

// Read waits for the next event and returns it. It returns ctx's error when ctx is done,
// and ErrClosed after Close.
func (r *RingBuf[E]) Read(ctx context.Context) (E, error) {
	var e E
	err := r.ReadInto(ctx, &e)
	return e, err
}

// ReadInto waits for the next event and copies it into *event, without allocating when an
// event is already there.
func (r *RingBuf[E]) ReadInto(ctx context.Context, event *E) error {
	_, err := r.read(ctx, unsafe.Slice(event, 1))
	return err
}

// ReadBatch waits for at least one event, then copies as many as are ready, up to
// len(events), and returns how many it copied: one lock and one update of the consumer
// position for the lot, as libbpf's ring_buffer__consume does.
func (r *RingBuf[E]) ReadBatch(ctx context.Context, events []E) (int, error) {
	if len(events) == 0 {
		return 0, nil
	}
	return r.read(ctx, events)
}

func (r *RingBuf[E]) read(ctx context.Context, events []E) (int, error) {
	r.mu.Lock()
	defer r.mu.Unlock()
	for {
		if r.closed.Load() {
			return 0, fmt.Errorf("ring buffer %q: %w", r.h.info.Name, ErrClosed)
		}
		n, err := r.consume(events)
		if n > 0 || err != nil {
			return n, err
		}
		if err := ctx.Err(); err != nil {
			return 0, err
		}
		if err := r.wait(ctx); err != nil {
			return 0, err
		}
	}
}

// Available returns the number of bytes not yet consumed (records and headers).
func (r *RingBuf[E]) Available() int {
	r.mu.Lock()
	defer r.mu.Unlock()
	if r.closed.Load() {
		return 0
	}
	cons := r.pos
	if cons == r.published {
		cons = r.consPos().Load()
	}
	return int(r.prodPos().Load() - cons)
}

func (r *RingBuf[E]) consPos() *atomic.Uint64 { return (*atomic.Uint64)(unsafe.Pointer(&r.cons[0])) }
func (r *RingBuf[E]) prodPos() *atomic.Uint64 { return (*atomic.Uint64)(unsafe.Pointer(&r.prod[0])) }

// consume copies up to len(events) committed records, skipping discarded ones.
//
// The kernel learns the new consumer position through the consumer page. Go's atomic
// store is sequentially consistent (an XCHG on amd64, ~20 ns), where libbpf's
// smp_store_release is a plain store, so the position is published once per call, and,
// while a backlog is being read one event at a time, only every batchBytes (an eighth of
// the ring, at most 64 KiB) or when the reader has caught up with the producer. Before
// the reader sleeps it has always caught up, so the producer never waits on it. With
// nothing unpublished the position is re-read from the page, so another consumer taking
// turns on the same ring (not at the same time) is seen.
func (r *RingBuf[E]) consume(events []E) (int, error) {
	cp, pp := r.consPos(), r.prodPos()
	data := unsafe.Pointer(&r.data[0]) // 2×size bytes: a record never runs past the end
	if r.pos == r.published {
		r.pos = cp.Load()
		r.published = r.pos
	}
	cons := r.pos
	prod := pp.Load()
	n := 0
	var err error
	for n < len(events) {
		if cons >= prod {
			if prod = pp.Load(); cons >= prod {
				break
			}
		}
		rec := unsafe.Add(data, cons&r.mask)
		hdr := (*atomic.Uint32)(rec).Load()
		if hdr&ringbufBusyBit != 0 {
			break // reserved, not yet committed: the commit will wake us
		}
		size := int(hdr &^ (ringbufBusyBit | ringbufDiscardBit))
		cons += uint64((size + ringbufHdrSize + 7) &^ 7)
		if hdr&ringbufDiscardBit != 0 {
			continue
		}
		if size != r.evsize {
			err = fmt.Errorf("ring buffer %q: record of %d bytes, event type is %d bytes", r.h.info.Name, size, r.evsize)
			break
		}
		events[n] = *(*E)(unsafe.Add(rec, ringbufHdrSize))
		n++
	}
	r.pos = cons
	if cons != r.published && (cons >= prod || cons-r.published >= r.batchBytes || n == 0) {
		cp.Store(cons)
		r.published = cons
	}
	return n, err
}

// wait sleeps until the ring has data, ctx is done or Close is called.
func (r *RingBuf[E]) wait(ctx context.Context) error {
	if err := r.poll.wait(ctx); err != nil {
		return fmt.Errorf("ring buffer %q: %w", r.h.info.Name, err)
	}
	return nil
}

// Close stops a blocked Read (which returns ErrClosed) and releases the mappings and
// descriptors. It is idempotent and nil-safe; closing the map's owner closes the reader.
func (r *RingBuf[E]) Close() error {
	if r == nil || r.closed.Swap(true) {
		return nil
	}
	r.leak.Closed()
	r.unlink()
	r.poll.wake()
	r.mu.Lock()
	defer r.mu.Unlock()
	r.res.release()
	r.cons, r.prod, r.data = nil, nil, nil
	return nil
}
