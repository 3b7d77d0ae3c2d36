// SPDX-License-Identifier: Apache-2.0

package sys

import (
	"fmt"
	"log/slog"
	"runtime"
	"strings"
	"sync/atomic"
)

// Leak is the leak detector of one owner (an Object, a ring or perf buffer reader): if
// the owner is garbage collected before Closed is called, a warning names it and where
// it was opened, and release (if any) frees what it held. It must not point back at the
// owner.
type Leak struct {
	closed   atomic.Bool
	what     string // e.g. "loader.Object"
	name     string
	openedAt string
	note     string
	release  func()
}

// TrackLeak starts the leak detector of owner. what names its type ("loader.Object"),
// name the instance, note what the leak costs; release, which must not refer to owner,
// frees its resources when it is collected unclosed (nil: nothing can be freed).
func TrackLeak[T any](owner *T, what, name, note string, release func()) *Leak {
	l := &Leak{what: what, name: name, note: note, release: release, openedAt: callerOutside()}
	runtime.AddCleanup(owner, func(l *Leak) {
		if l.closed.Load() {
			return
		}
		slog.Warn(fmt.Sprintf("bpfkit: a %s was garbage collected without Close; %s", l.what, l.note),
			"name", l.name, "opened_at", l.openedAt)
		if l.release != nil {
			l.release()
		}
	}, l)
	return l
}

// Closed records that the owner was closed: nothing will be reported.
func (l *Leak) Closed() {
	if l != nil {
		l.closed.Store(true)
	}
}

// callerOutside returns file:line of the first caller outside bpfkit's own packages
// (tests of those packages count as outside): the code that opened the owner.
func callerOutside() string {
	pcs := make([]uintptr, 16)
	frames := runtime.CallersFrames(pcs[:runtime.Callers(3, pcs)])
	for {
		f, more := frames.Next()
		inside := strings.HasPrefix(f.Function, "github.com/bpfkit/bpfkit/") &&
			!strings.HasSuffix(f.File, "_test.go") && !strings.Contains(f.Function, "/examples/")
		if !inside {
			return fmt.Sprintf("%s:%d", f.File, f.Line)
		}
		if !more {
			return "unknown caller"
		}
	}
}
