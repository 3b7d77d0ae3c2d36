// SPDX-License-Identifier: Apache-2.0

package maps

import (
	"context"
	"encoding/binary"
	"fmt"
	"reflect"
	"sync"
	"sync/atomic"
	"unsafe"

	"github.com/cilium/ebpf"
	"golang.org/x/sys/unix"

	"github.com/bpfkit/bpfkit/internal/sys"
)

// Offsets in struct perf_event_mmap_page (include/uapi/linux/perf_event.h).
const (
	perfDataHead   = 1024
	perfDataTail   = 1032
	perfDataOffset = 1040
	perfDataSize   = 1048

	perfRecordLost   = 2
	perfRecordSample = 9
)

// PerfSample is one event read from a PerfBuf.
type PerfSample[E any] struct {
	// CPU is the CPU whose buffer held the event.
	CPU int
	// Event is the event, as the BPF program passed it to bpf_perf_event_output.
	Event E
	// Lost is the number of events this CPU's buffer dropped (it was full) since the
	// previous sample read from it.
	Lost uint64
}

// perfRing is one CPU's perf event and its mapped ring.
type perfRing struct {
	cpu  int
	fd   int
	mem  []byte // metadata page + data
	data []byte
	lost uint64
}

// PerfBuf reads typed events from a BPF_MAP_TYPE_PERF_EVENT_ARRAY map, as libbpf's
// perf_buffer does: one PERF_COUNT_SW_BPF_OUTPUT event per CPU, its ring mapped and stored
// in the map at the CPU's index. Each sample must hold sizeof(E) bytes (the kernel pads it
// to 8). Records the kernel could not write are counted (Lost and PerfSample.Lost). One
// goroutine reads; Close may be called from any goroutine.
type PerfBuf[E any] struct {
	base
	mu      sync.Mutex
	closed  atomic.Bool
	rings   []*perfRing
	next    int     // ring to read first, for fairness
	poll    *poller // the perf events; Close and context cancellation wake it
	evsize  int
	scratch []byte
	lost    atomic.Uint64

	res    *perfRes  // what Close, or the leak detector, frees
	leak   *sys.Leak // reports a reader collected without Close
	unlink func()    // unregisters the reader from its map's owner
}

// perfRes is what a PerfBuf holds outside the Go heap: the perf events, their rings and
// their entries in the map. It does not point back at the reader, so the leak detector
// can free it.
type perfRes struct {
	once  sync.Once
	slot  *sys.Slot // the map, whose entries are removed
	rings []*perfRing
	poll  *poller
}

func (res *perfRes) release() {
	res.once.Do(func() {
		if f := res.slot.Load(); f != nil {
			if fd, ok := f.Acquire(); ok {
				for _, r := range res.rings {
					key := uint32(r.cpu)
					sys.MapElem(unix.BPF_MAP_DELETE_ELEM, fd, unsafe.Pointer(&key), nil, 0)
				}
				f.Release()
			}
		}
		for _, r := range res.rings {
			if r.mem != nil {
				unix.Munmap(r.mem)
			}
			unix.Close(r.fd)
		}
		res.poll.close()
	})
}

// NewPerfBuf opens a perf event on each CPU (at most the map's max_entries), maps
// pagesPerCPU pages of ring (a power of two; 0 means 64) for each, and stores the events
// in the map. The reader owns the perf events, mappings and descriptors; it belongs to
// the map's owner, whose Close closes it (a blocked Read then returns ErrClosed). Close
// it when done: one dropped without Close is reported by a leak detector when it is
// collected.
func NewPerfBuf[E any](m Map, pagesPerCPU int) (*PerfBuf[E], error) {
	h, err := newHandle(m, "maps.NewPerfBuf", ebpf.PerfEventArray)
	if err != nil {
		return nil, err
	}
	et := reflect.TypeFor[E]()
	if err := sys.CheckPlain(et, ""); err != nil {
		return nil, fmt.Errorf("%w: Go event type %s for perf buffer %q: %v", ErrLayout, et, h.info.Name, err)
	}
	if pagesPerCPU == 0 {
		pagesPerCPU = 64
	}
	if pagesPerCPU < 0 || pagesPerCPU&(pagesPerCPU-1) != 0 {
		return nil, fmt.Errorf("maps.NewPerfBuf on map %q: %d pages per CPU is not a power of two", h.info.Name, pagesPerCPU)
	}
	ncpu, err := possibleCPUs()
	if err != nil {
		return nil, fmt.Errorf("maps.NewPerfBuf on map %q: %w", h.info.Name, err)
	}
	ncpu = min(ncpu, int(h.info.MaxEntries))
	f, mapFD, err := h.acquire("maps.NewPerfBuf")
	if err != nil {
		return nil, err
	}
	defer f.Release()
	p := &PerfBuf[E]{base: base{h}, evsize: int(et.Size()), res: &perfRes{slot: h.slot}}
	fail := func(what string, err error) (*PerfBuf[E], error) {
		p.res.release()
		return nil, fmt.Errorf("maps.NewPerfBuf on map %q: %s: %w", h.info.Name, what, err)
	}
	if p.poll, err = newPoller(); err != nil {
		return fail("waiting set", err)
	}
	p.res.poll = p.poll
	page := unix.Getpagesize()
	for cpu := range ncpu {
		attr := unix.PerfEventAttr{
			Type:        unix.PERF_TYPE_SOFTWARE,
			Config:      unix.PERF_COUNT_SW_BPF_OUTPUT,
			Size:        uint32(unsafe.Sizeof(unix.PerfEventAttr{})),
			Sample_type: unix.PERF_SAMPLE_RAW,
			Sample:      1,
			Wakeup:      1,
		}
		pfd, err := unix.PerfEventOpen(&attr, -1, cpu, -1, unix.PERF_FLAG_FD_CLOEXEC)
		if err == unix.ENODEV {
			continue // offline CPU
		}
		if err != nil {
			return fail(fmt.Sprintf("perf_event_open on CPU %d", cpu), err)
		}
		ring := &perfRing{cpu: cpu, fd: pfd}
		p.rings = append(p.rings, ring)
		p.res.rings = p.rings
		if ring.mem, err = unix.Mmap(pfd, 0, page*(1+pagesPerCPU), unix.PROT_READ|unix.PROT_WRITE, unix.MAP_SHARED); err != nil {
			return fail(fmt.Sprintf("mapping the ring of CPU %d", cpu), err)
		}
		off := binary.NativeEndian.Uint64(ring.mem[perfDataOffset:])
		size := binary.NativeEndian.Uint64(ring.mem[perfDataSize:])
		if off == 0 || size == 0 {
			off, size = uint64(page), uint64(page*pagesPerCPU)
		}
		ring.data = ring.mem[off : off+size]
		if err := unix.IoctlSetInt(pfd, unix.PERF_EVENT_IOC_ENABLE, 0); err != nil {
			return fail(fmt.Sprintf("enabling the perf event of CPU %d", cpu), err)
		}
		key, val := uint32(cpu), uint32(pfd)
		if e := sys.MapElem(unix.BPF_MAP_UPDATE_ELEM, mapFD, unsafe.Pointer(&key), unsafe.Pointer(&val), 0); e != 0 {
			return fail(fmt.Sprintf("storing the perf event of CPU %d", cpu), e)
		}
		if err := p.poll.add(pfd); err != nil {
			return fail(fmt.Sprintf("watching the perf event of CPU %d", cpu), err)
		}
	}
	if p.unlink, err = own(f, p); err != nil {
		return fail("registering with the map's owner", err)
	}
	p.leak = sys.TrackLeak(p, "maps.PerfBuf", h.info.Name,
		"its perf events, mappings and descriptors are freed now", p.res.release)
	return p, nil
}

// Lost returns the total number of events the kernel dropped because a CPU's buffer was
// full, as reported by the records read so far.
func (p *PerfBuf[E]) Lost() uint64 { return p.lost.Load() }

// Read waits for the next event from any CPU. It returns ctx's error when ctx is done and
// ErrClosed after Close.
func (p *PerfBuf[E]) Read(ctx context.Context) (PerfSample[E], error) {
	var s PerfSample[E]
	err := p.ReadInto(ctx, &s)
	return s, err
}

// ReadInto is Read into *sample, without allocating when an event is already there.
func (p *PerfBuf[E]) ReadInto(ctx context.Context, sample *PerfSample[E]) error {
	p.mu.Lock()
	defer p.mu.Unlock()
	for {
		if p.closed.Load() {
			return fmt.Errorf("perf buffer %q: %w", p.h.info.Name, ErrClosed)
		}
		for i := range p.rings {
			r := p.rings[(p.next+i)%len(p.rings)]
			ok, err := p.consume(r, sample)
			if ok || err != nil {
				p.next = (p.next + i + 1) % len(p.rings)
				return err
			}
		}
		if err := ctx.Err(); err != nil {
			return err
		}
		if err := p.wait(ctx); err != nil {
			return err
		}
	}
}

// consume reads records from r until it finds a sample (counting lost records).
func (p *PerfBuf[E]) consume(r *perfRing, sample *PerfSample[E]) (bool, error) {
	headp := (*atomic.Uint64)(unsafe.Pointer(&r.mem[perfDataHead]))
	tailp := (*atomic.Uint64)(unsafe.Pointer(&r.mem[perfDataTail]))
	size := uint64(len(r.data))
	for {
		head, tail := headp.Load(), tailp.Load()
		if tail >= head {
			return false, nil
		}
		off := tail % size
		typ := binary.NativeEndian.Uint32(r.data[off:])
		recSize := uint64(binary.NativeEndian.Uint16(r.data[off+6:]))
		if recSize < 8 {
			return false, fmt.Errorf("perf buffer %q: corrupt record of %d bytes on CPU %d", p.h.info.Name, recSize, r.cpu)
		}
		var rec []byte
		if off+recSize <= size {
			rec = r.data[off : off+recSize : off+recSize]
		} else { // wraps: copy the two parts
			if cap(p.scratch) < int(recSize) {
				p.scratch = make([]byte, recSize)
			}
			rec = p.scratch[:recSize]
			n := copy(rec, r.data[off:])
			copy(rec[n:], r.data)
		}
		switch typ {
		case perfRecordLost:
			if len(rec) >= 24 {
				n := binary.NativeEndian.Uint64(rec[16:])
				r.lost += n
				p.lost.Add(n)
			}
		case perfRecordSample:
			var err error
			raw := uint64(binary.NativeEndian.Uint32(rec[8:]))
			if raw < uint64(p.evsize) || 12+raw > recSize {
				err = fmt.Errorf("perf buffer %q: sample of %d bytes on CPU %d, event type is %d bytes", p.h.info.Name, raw, r.cpu, p.evsize)
			} else {
				sample.Event = *(*E)(unsafe.Pointer(&rec[12]))
			}
			sample.CPU, sample.Lost = r.cpu, r.lost
			r.lost = 0
			tailp.Store(tail + recSize)
			return true, err
		}
		tailp.Store(tail + recSize)
	}
}

func (p *PerfBuf[E]) wait(ctx context.Context) error {
	if err := p.poll.wait(ctx); err != nil {
		return fmt.Errorf("perf buffer %q: %w", p.h.info.Name, err)
	}
	return nil
}

// Close stops a blocked Read (which returns ErrClosed), removes the perf events from the
// map and releases them. It is idempotent and nil-safe.
func (p *PerfBuf[E]) Close() error {
	if p == nil || p.closed.Swap(true) {
		return nil
	}
	p.leak.Closed()
	p.unlink()
	p.poll.stop()
	p.mu.Lock()
	defer p.mu.Unlock()
	p.res.release()
	p.rings = nil
	return nil
}
