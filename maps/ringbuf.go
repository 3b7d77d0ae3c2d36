// SPDX-License-Identifier: Apache-2.0

package maps

import (
	"context"
	"fmt"
	"reflect"
	"runtime"
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
// sizeof(E) bytes (RawRingBuf reads records of any size).
//
// One goroutine reads: Read, ReadInto, ReadBatch and Available must not be called
// concurrently with one another (they take no lock, so that reading one event costs
// what libbpf's callback does). Close may be called from any goroutine at any time.
type RingBuf[E any] struct {
	base
	ring   ringCore
	evsize int
}

// RawRingBuf reads the records of a BPF_MAP_TYPE_RINGBUF map as bytes, whatever their
// size: for programs that write records of several sizes with bpf_ringbuf_output or
// bpf_ringbuf_reserve (a header and a variable-length tail, a string …). It reads as
// RingBuf does, and is used the same way: one goroutine reads, Close from any.
type RawRingBuf struct {
	base
	ring ringCore
}

// ringCore is a ring buffer reader without its record type. Its positions belong to the
// reading goroutine; closed and res are what Close shares with it.
type ringCore struct {
	h      *handle
	closed atomic.Bool
	cons   *atomic.Uint64 // the consumer position in the consumer page (RW)
	prodp  *atomic.Uint64 // the producer position in the producer page (RO)
	data   unsafe.Pointer // 2×size bytes of data: a record never runs past the end
	mask   uint64
	// pos is the reader's consumer position, published what the kernel was last told
	// (the consumer page), prod the producer position last read. See next and done.
	pos, published, prod uint64
	batchBytes           uint64  // publish at least every batchBytes consumed
	poll                 *poller // the map's fd; Close and context cancellation wake it

	res    *ringRes  // the mappings and descriptors
	leak   *sys.Leak // reports a reader collected without Close
	unlink func()    // unregisters the reader from its map's owner
}

// ringRes is what a ring buffer reader holds outside the Go heap. It does not point back
// at the reader, so the leak detector and the cleanup can free it.
//
// A reader reads the mappings without a lock. So Close does not unmap them under a
// reader that may be running: it maps anonymous memory over them (MAP_FIXED), which
// releases the kernel's ring at once, and leaves that memory to be unmapped by the
// reader's next call (which returns ErrClosed and touches nothing after) or, if none
// comes, when the reader is collected.
type ringRes struct {
	mu         sync.Mutex
	state      int // mapped, replaced (by Close) or unmapped
	cons, prod []byte
	poll       *poller
}

const (
	ringMapped = iota
	ringReplaced
	ringUnmapped
)

// unmap unmaps the mappings, whatever they hold now: for the leak detector and the
// cleanup (no reader is running) and for the reader itself once Close replaced them.
func (res *ringRes) unmap() {
	res.mu.Lock()
	defer res.mu.Unlock()
	if res.state != ringUnmapped {
		for _, m := range [][]byte{res.prod, res.cons} {
			if m != nil {
				unix.Munmap(m)
			}
		}
		res.state = ringUnmapped
	}
	res.poll.close()
}

// replace maps anonymous memory of the same protection over the mappings still held: a
// reader running meanwhile reads zeros (an empty ring) instead of faulting.
func (res *ringRes) replace() {
	res.mu.Lock()
	defer res.mu.Unlock()
	if res.state != ringMapped {
		return
	}
	for _, m := range []struct {
		mem  []byte
		prot int
	}{{res.cons, unix.PROT_READ | unix.PROT_WRITE}, {res.prod, unix.PROT_READ}} {
		if m.mem == nil {
			continue
		}
		if _, err := mmapFixedAnon(m.mem, m.prot); err != nil {
			// Without a replacement the kernel's mapping stays until the cleanup unmaps it.
			continue
		}
	}
	res.state = ringReplaced
}

// afterClose is what the reader does once it sees the reader closed: unmap what Close
// replaced (not before: Close may be about to map over it).
func (res *ringRes) afterClose() {
	res.mu.Lock()
	replaced := res.state == ringReplaced
	res.mu.Unlock()
	if replaced {
		res.unmap()
	}
}

// mmapFixedAnon maps private anonymous memory over mem.
func mmapFixedAnon(mem []byte, prot int) (uintptr, error) {
	addr, _, errno := unix.Syscall6(unix.SYS_MMAP, uintptr(unsafe.Pointer(unsafe.SliceData(mem))), uintptr(len(mem)),
		uintptr(prot), unix.MAP_PRIVATE|unix.MAP_ANONYMOUS|unix.MAP_FIXED, ^uintptr(0), 0)
	if errno != 0 {
		return 0, errno
	}
	return addr, nil
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
	r := &RingBuf[E]{base: base{h}, evsize: int(et.Size())}
	if err := r.ring.open(h, "maps.NewRingBuf", func(f *sys.FD) (func(), error) { return own(f, r) }); err != nil {
		return nil, err
	}
	trackRing(r, &r.ring, "maps.RingBuf")
	return r, nil
}

// NewRawRingBuf maps the ring buffer for reading records of any size. It owns and is
// owned as a RingBuf (see NewRingBuf).
func NewRawRingBuf(m Map) (*RawRingBuf, error) {
	h, err := newHandle(m, "maps.NewRawRingBuf", ebpf.RingBuf)
	if err != nil {
		return nil, err
	}
	r := &RawRingBuf{base: base{h}}
	if err := r.ring.open(h, "maps.NewRawRingBuf", func(f *sys.FD) (func(), error) { return own(f, r) }); err != nil {
		return nil, err
	}
	trackRing(r, &r.ring, "maps.RawRingBuf")
	return r, nil
}

// trackRing starts the leak detector of reader (which frees everything of a reader
// collected without Close) and the cleanup that unmaps what Close left mapped (see
// ringRes) when a closed reader is collected.
func trackRing[T any](reader *T, c *ringCore, what string) {
	c.leak = sys.TrackLeak(reader, what, c.h.info.Name,
		"its mappings and descriptors are freed now, they kept the map alive until then", c.res.unmap)
	runtime.AddCleanup(reader, (*ringRes).afterClose, c.res)
}

// open maps the ring of h's map into c and registers reader with the map's owner; on
// error nothing is left open.
func (c *ringCore) open(h *handle, op string, register func(*sys.FD) (func(), error)) error {
	f, fd, err := h.acquire(op)
	if err != nil {
		return err
	}
	defer f.Release()
	size := int(h.info.MaxEntries)
	page := unix.Getpagesize()
	c.h, c.mask, c.batchBytes, c.res = h, uint64(size-1), uint64(min(size/8, 64<<10)), &ringRes{}
	fail := func(what string, err error) error {
		c.res.unmap()
		return fmt.Errorf("%s on map %q: %s: %w", op, h.info.Name, what, err)
	}
	cons, err := unix.Mmap(fd, 0, page, unix.PROT_READ|unix.PROT_WRITE, unix.MAP_SHARED)
	if err != nil {
		return fail("mapping the consumer page", err)
	}
	c.res.cons = cons
	prod, err := unix.Mmap(fd, int64(page), page+2*size, unix.PROT_READ, unix.MAP_SHARED)
	if err != nil {
		return fail("mapping the producer page and data", err)
	}
	c.res.prod = prod
	c.cons = (*atomic.Uint64)(unsafe.Pointer(unsafe.SliceData(cons)))
	c.prodp = (*atomic.Uint64)(unsafe.Pointer(unsafe.SliceData(prod)))
	c.data = unsafe.Pointer(&prod[page])
	if c.poll, err = newPoller(); err != nil {
		return fail("waiting set", err)
	}
	c.res.poll = c.poll
	if err := c.poll.add(fd); err != nil {
		return fail("watching the map", err)
	}
	c.pos = c.cons.Load()
	c.published = c.pos
	if c.unlink, err = register(f); err != nil {
		return fail("registering with the map's owner", err)
	}
	return nil
}

// next returns the data and size of the next committed record, skipping discarded ones,
// or nil when none is ready: the ring is empty, or its next record is reserved and not
// yet committed (its commit will wake a waiting reader: the position is published before
// returning nil, see done). The caller copies the record out, then calls done.
func (c *ringCore) next() (unsafe.Pointer, int) {
	for {
		if c.pos >= c.prod {
			if c.prod = c.prodp.Load(); c.pos >= c.prod {
				c.publish()
				return nil, 0
			}
		}
		rec := unsafe.Add(c.data, c.pos&c.mask)
		hdr := (*atomic.Uint32)(rec).Load()
		if hdr&ringbufBusyBit != 0 {
			c.publish()
			return nil, 0
		}
		size := int(hdr &^ (ringbufBusyBit | ringbufDiscardBit))
		c.pos += uint64((size + ringbufHdrSize + 7) &^ 7)
		if hdr&ringbufDiscardBit == 0 {
			return unsafe.Add(rec, ringbufHdrSize), size
		}
	}
}

// done tells the kernel, when it is time, how far the reader got: the records before pos
// have been copied out, so the producer may write over them.
//
// Go's atomic store is sequentially consistent (an XCHG on amd64, ~20 ns), where
// libbpf's smp_store_release is a plain store, so while a backlog is read the position is
// published only every batchBytes (an eighth of the ring, at most 64 KiB) and when the
// reader has caught up with the producer position it last read. Before the reader
// sleeps it has always caught up, so the producer never waits on it.
func (c *ringCore) done() {
	if c.pos >= c.prod || c.pos-c.published >= c.batchBytes {
		c.publish()
	}
}

func (c *ringCore) publish() {
	if c.pos != c.published {
		c.cons.Store(c.pos)
		c.published = c.pos
	}
}

// closedErr is ErrClosed for this ring; the reader's first call to see it unmaps what
// Close replaced.
func (c *ringCore) closedErr() error {
	c.res.afterClose()
	return fmt.Errorf("ring buffer %q: %w", c.h.info.Name, ErrClosed)
}

// wait sleeps until the ring has data, ctx is done or Close is called.
func (c *ringCore) wait(ctx context.Context) error {
	if c.closed.Load() {
		return c.closedErr()
	}
	if err := ctx.Err(); err != nil {
		return err
	}
	if err := c.poll.wait(ctx); err != nil {
		if c.closed.Load() {
			return c.closedErr()
		}
		return fmt.Errorf("ring buffer %q: %w", c.h.info.Name, err)
	}
	return nil
}

// available returns the bytes not yet consumed (records and headers).
func (c *ringCore) available() int {
	if c.closed.Load() {
		return 0
	}
	if c.pos == c.published {
		// nothing unpublished: another consumer taking turns on the ring may have moved on
		c.pos = c.cons.Load()
		c.published = c.pos
	}
	return int(c.prodp.Load() - c.pos)
}

// close stops a blocked read and releases the kernel's ring (see ringRes).
func (c *ringCore) close() {
	if c.closed.Swap(true) {
		return
	}
	c.leak.Closed()
	c.unlink()
	c.poll.stop()
	c.res.replace()
	c.poll.close() // waits for a woken reader to leave epoll_wait
}

// Read waits for the next event and returns it. It returns ctx's error when ctx is done,
// and ErrClosed after Close.
func (r *RingBuf[E]) Read(ctx context.Context) (E, error) {
	var e E
	err := r.ReadInto(ctx, &e)
	return e, err
}

// ReadInto waits for the next event and copies it into *event, without allocating. A
// record of another size than E is skipped and reported as an error.
func (r *RingBuf[E]) ReadInto(ctx context.Context, event *E) error {
	c := &r.ring
	// The fast path: a committed record of the right size is known to be there.
	if c.pos < c.prod && !c.closed.Load() {
		rec := unsafe.Add(c.data, c.pos&c.mask)
		if hdr := (*atomic.Uint32)(rec).Load(); int(hdr) == r.evsize { // neither busy nor discarded
			*event = *(*E)(unsafe.Add(rec, ringbufHdrSize))
			c.pos += uint64((r.evsize + ringbufHdrSize + 7) &^ 7)
			c.done()
			if c.closed.Load() { // Close raced with the copy, which may have read zeros
				return c.closedErr()
			}
			return nil
		}
	}
	return r.readInto(ctx, event)
}

// readInto is ReadInto when the fast path does not apply.
func (r *RingBuf[E]) readInto(ctx context.Context, event *E) error {
	c := &r.ring
	for {
		if c.closed.Load() {
			return c.closedErr()
		}
		if rec, size := c.next(); rec != nil {
			if size != r.evsize {
				c.done()
				return r.sizeErr(size)
			}
			*event = *(*E)(rec)
			c.done()
			if c.closed.Load() { // Close raced with the copy, which may have read zeros
				return c.closedErr()
			}
			return nil
		}
		if err := c.wait(ctx); err != nil {
			return err
		}
	}
}

func (r *RingBuf[E]) sizeErr(size int) error {
	if r.ring.closed.Load() {
		return r.ring.closedErr()
	}
	return fmt.Errorf("ring buffer %q: record of %d bytes, event type is %d bytes", r.h.info.Name, size, r.evsize)
}

// ReadBatch waits for at least one event, then copies as many as are ready, up to
// len(events), and returns how many it copied, as libbpf's ring_buffer__consume does. A
// record of another size than E ends the batch with an error (it is skipped).
func (r *RingBuf[E]) ReadBatch(ctx context.Context, events []E) (int, error) {
	if len(events) == 0 {
		return 0, nil
	}
	c := &r.ring
	for {
		if c.closed.Load() {
			return 0, c.closedErr()
		}
		n, err := r.consume(events)
		if c.closed.Load() {
			return 0, c.closedErr()
		}
		if n > 0 || err != nil {
			return n, err
		}
		if err := c.wait(ctx); err != nil {
			return 0, err
		}
	}
}

// consume copies up to len(events) committed records, as next and done would one by one,
// with the positions kept in registers.
func (r *RingBuf[E]) consume(events []E) (int, error) {
	c := &r.ring
	pos, prod, data, mask := c.pos, c.prod, c.data, c.mask
	n := 0
	var err error
	for n < len(events) {
		if pos >= prod {
			if prod = c.prodp.Load(); pos >= prod {
				break
			}
		}
		rec := unsafe.Add(data, pos&mask)
		hdr := (*atomic.Uint32)(rec).Load()
		if hdr&ringbufBusyBit != 0 {
			break
		}
		size := int(hdr &^ (ringbufBusyBit | ringbufDiscardBit))
		pos += uint64((size + ringbufHdrSize + 7) &^ 7)
		if hdr&ringbufDiscardBit != 0 {
			continue
		}
		if size != r.evsize {
			err = r.sizeErr(size)
			break
		}
		events[n] = *(*E)(unsafe.Add(rec, ringbufHdrSize))
		n++
	}
	c.pos, c.prod = pos, prod
	if n < len(events) && err == nil {
		c.publish() // caught up, or stopped at a record not yet committed: see next
	} else {
		c.done()
	}
	return n, err
}

// Available returns the number of bytes not yet consumed (records and headers). It is
// the reading goroutine's (see RingBuf).
func (r *RingBuf[E]) Available() int { return r.ring.available() }

// Close stops a blocked Read (which returns ErrClosed) and releases the ring; its last
// mappings go at the reader's next call or when it is collected. It is idempotent and
// nil-safe; closing the map's owner closes the reader.
func (r *RingBuf[E]) Close() error {
	if r != nil {
		r.ring.close()
	}
	return nil
}

// ReadInto waits for the next record and returns buf[:0] with the record's bytes
// appended: without allocating when buf has room for them. It returns ctx's error when
// ctx is done, and ErrClosed after Close.
func (r *RawRingBuf) ReadInto(ctx context.Context, buf []byte) ([]byte, error) {
	c := &r.ring
	// The fast path: a committed record is known to be there.
	if c.pos < c.prod && !c.closed.Load() {
		rec := unsafe.Add(c.data, c.pos&c.mask)
		if hdr := (*atomic.Uint32)(rec).Load(); hdr&(ringbufBusyBit|ringbufDiscardBit) == 0 {
			buf = append(buf[:0], unsafe.Slice((*byte)(unsafe.Add(rec, ringbufHdrSize)), hdr)...)
			c.pos += uint64((hdr + ringbufHdrSize + 7) &^ 7)
			c.done()
			if c.closed.Load() {
				return buf[:0], c.closedErr()
			}
			return buf, nil
		}
	}
	return r.readInto(ctx, buf)
}

// readInto is ReadInto when the fast path does not apply.
func (r *RawRingBuf) readInto(ctx context.Context, buf []byte) ([]byte, error) {
	c := &r.ring
	for {
		if c.closed.Load() {
			return buf[:0], c.closedErr()
		}
		if rec, size := c.next(); rec != nil {
			buf = append(buf[:0], unsafe.Slice((*byte)(rec), size)...)
			c.done()
			if c.closed.Load() {
				return buf[:0], c.closedErr()
			}
			return buf, nil
		}
		if err := c.wait(ctx); err != nil {
			return buf[:0], err
		}
	}
}

// Read waits for the next record and returns a copy of its bytes.
func (r *RawRingBuf) Read(ctx context.Context) ([]byte, error) {
	return r.ReadInto(ctx, nil)
}

// Available returns the number of bytes not yet consumed (records and headers). It is
// the reading goroutine's (see RawRingBuf).
func (r *RawRingBuf) Available() int { return r.ring.available() }

// Close stops a blocked Read (which returns ErrClosed) and releases the ring, as
// RingBuf.Close does. It is idempotent and nil-safe.
func (r *RawRingBuf) Close() error {
	if r != nil {
		r.ring.close()
	}
	return nil
}
