package loader

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"time"

	"golang.org/x/sys/unix"
)

// TraceRecord is one line of the kernel's trace pipe, such as bpf_printk writes:
//
//	minimal-4242  [001] d..31  5678.123456: bpf_trace_printk: BPF triggered from PID 4242.
type TraceRecord struct {
	Task    string        // the current task's comm ("<...>" when the kernel lost it)
	PID     int           // the kernel's pid of the current task: the thread ID (a Go program's record may come from any of its threads; its process ID is what bpf_get_current_pid_tgid()>>32 gives)
	CPU     int           // the CPU the event happened on
	Flags   string        // irq/preempt flags, e.g. "d..31" ("" when the kernel omits them)
	Time    time.Duration // the trace clock (time since boot by default)
	Event   string        // "bpf_trace_printk" for bpf_printk
	Message string        // what the program printed, without the trailing newline
	Raw     string        // the whole line
}

// TracePipeOptions configure OpenTracePipe. A nil *TracePipeOptions means the defaults.
type TracePipeOptions struct {
	// Instance, if not empty, reads from a tracefs instance of this name instead of the
	// global trace_pipe: OpenTracePipe creates it (if missing) with the bpf_trace_printk
	// event enabled, and Close removes what it created. Each instance gets its own copy
	// of every bpf_printk line, so readers in different instances do not steal each
	// other's records (reading the global trace_pipe consumes them).
	Instance string
	// NoMount stops OpenTracePipe from mounting tracefs when it is not mounted.
	NoMount bool
}

// TracePipe reads the kernel's trace pipe. Close it to release the file (and the
// instance it created). Read it from one goroutine at a time.
type TracePipe struct {
	fd      int
	dir     string // the instance directory, if any
	created bool   // the instance was made by OpenTracePipe
	pending []byte // the start of a line not yet complete
	closed  bool
	buf     [4096]byte // what one read(2) fills
}

// pollInterval bounds how long Read waits in poll(2) before it looks at its context.
const pollInterval = 100 * time.Millisecond

// tracefs mount points, in the order the kernel documents them.
var tracefsRoots = []string{"/sys/kernel/tracing", "/sys/kernel/debug/tracing"}

// TracefsRoot returns where tracefs is mounted, mounting it on /sys/kernel/tracing
// when it is not and mount is true (needs CAP_SYS_ADMIN).
func TracefsRoot(mount bool) (string, error) {
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

// OpenTracePipe opens the trace pipe, mounting tracefs if needed (unless
// opts.NoMount). Reading it needs root (or read access to tracefs).
func OpenTracePipe(opts *TracePipeOptions) (*TracePipe, error) {
	var o TracePipeOptions
	if opts != nil {
		o = *opts
	}
	root, err := TracefsRoot(!o.NoMount)
	if err != nil {
		return nil, fmt.Errorf("opening the trace pipe: %w", err)
	}
	t := &TracePipe{fd: -1, dir: root}
	if o.Instance != "" {
		if strings.ContainsAny(o.Instance, "/.") {
			return nil, fmt.Errorf("opening the trace pipe: instance name %q must not contain '/' or '.'", o.Instance)
		}
		t.dir = filepath.Join(root, "instances", o.Instance)
		err := os.Mkdir(t.dir, 0o755)
		switch {
		case err == nil:
			t.created = true
		case errors.Is(err, os.ErrExist):
		default:
			return nil, fmt.Errorf("opening the trace pipe: creating tracefs instance: %w", err)
		}
		enable := filepath.Join(t.dir, "events", "bpf_trace", "bpf_trace_printk", "enable")
		if err := os.WriteFile(enable, []byte("1"), 0); err != nil {
			t.removeInstance()
			return nil, fmt.Errorf("opening the trace pipe: enabling bpf_trace_printk in instance %s: %w", o.Instance, err)
		}
	}
	path := filepath.Join(t.dir, "trace_pipe")
	fd, err := unix.Open(path, unix.O_RDONLY|unix.O_NONBLOCK|unix.O_CLOEXEC, 0)
	if err != nil {
		t.removeInstance()
		return nil, fmt.Errorf("opening the trace pipe %s: %w", path, err)
	}
	t.fd = fd
	return t, nil
}

// Read returns the next record, waiting for one until ctx is done (then it returns
// ctx.Err()). Lines that are not trace records (the kernel's "CPU:N [LOST n EVENTS]"
// notes) are returned with only Raw and Message set.
func (t *TracePipe) Read(ctx context.Context) (TraceRecord, error) {
	if t == nil || t.closed {
		return TraceRecord{}, fmt.Errorf("reading the trace pipe: %w", ErrClosed)
	}
	for {
		if i := bytes.IndexByte(t.pending, '\n'); i >= 0 {
			line := string(t.pending[:i])
			t.pending = t.pending[i+1:]
			if strings.TrimSpace(line) == "" {
				continue
			}
			return ParseTraceRecord(line), nil
		}
		if err := ctx.Err(); err != nil {
			return TraceRecord{}, err
		}
		fds := []unix.PollFd{{Fd: int32(t.fd), Events: unix.POLLIN}}
		if _, err := unix.Poll(fds, int(pollInterval/time.Millisecond)); err != nil && !errors.Is(err, unix.EINTR) {
			return TraceRecord{}, fmt.Errorf("reading the trace pipe: %w", err)
		}
		n, err := unix.Read(t.fd, t.buf[:])
		switch {
		case errors.Is(err, unix.EAGAIN), errors.Is(err, unix.EINTR):
			continue
		case err != nil:
			return TraceRecord{}, fmt.Errorf("reading the trace pipe: %w", err)
		}
		t.pending = append(t.pending, t.buf[:n]...)
	}
}

// Close closes the pipe and removes the instance OpenTracePipe created. Idempotent.
func (t *TracePipe) Close() error {
	if t == nil || t.closed {
		return nil
	}
	t.closed = true
	err := unix.Close(t.fd)
	t.removeInstance()
	if err != nil {
		return fmt.Errorf("closing the trace pipe: %w", err)
	}
	return nil
}

func (t *TracePipe) removeInstance() {
	if t.created {
		_ = os.WriteFile(filepath.Join(t.dir, "events", "bpf_trace", "bpf_trace_printk", "enable"), []byte("0"), 0)
		_ = os.Remove(t.dir) // rmdir of an instance frees its buffers
	}
}

var traceLineRE = regexp.MustCompile(`^\s*(.*)-(\d+)\s+(?:\(\s*[-\d]+\)\s+)?\[(\d+)\]\s+(?:([^\s\d]\S*|\S*[^\s\d.:]\S*)\s+)?(\d+)\.(\d+):\s+([^:\s]+):\s?(.*)$`)

// ParseTraceRecord parses one line of trace_pipe. A line that is not a record gives a
// TraceRecord with only Raw and Message set to the line.
func ParseTraceRecord(line string) TraceRecord {
	r := TraceRecord{Raw: line, Message: line}
	m := traceLineRE.FindStringSubmatch(line)
	if m == nil {
		return r
	}
	r.Task = strings.TrimSpace(m[1])
	r.PID, _ = strconv.Atoi(m[2])
	r.CPU, _ = strconv.Atoi(m[3])
	r.Flags = m[4]
	sec, _ := strconv.ParseInt(m[5], 10, 64)
	frac := m[6]
	for len(frac) < 9 {
		frac += "0"
	}
	ns, _ := strconv.ParseInt(frac[:9], 10, 64)
	r.Time = time.Duration(sec)*time.Second + time.Duration(ns)
	r.Event = m[7]
	r.Message = strings.TrimRight(m[8], "\n")
	return r
}
