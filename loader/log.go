// SPDX-License-Identifier: Apache-2.0

package loader

// #include "bpfkit.h"
import "C"

import (
	"context"
	"log/slog"
	"regexp"
	"strings"
	"sync"
	"sync/atomic"
)

// libbpf has one process-wide print callback. bpfkit installs its own (bk_print in
// bpfkit.c, which calls bkLibbpfPrint) and routes each message to the sink of the libbpf
// call in progress: calls that print (open, load, attach) run under libbpfMu with their
// object's sink installed.
var (
	libbpfMu   sync.Mutex
	activeSink atomic.Pointer[logSink]
)

// The levels of enum libbpf_print_level.
const (
	libbpfWarn  = 0
	libbpfInfo  = 1
	libbpfDebug = 2
)

// logSink receives libbpf's messages for one object.
type logSink struct {
	logger  *slog.Logger // nil: warnings only, to slog.Default()
	capture strings.Builder
}

// withLibbpf runs fn with s receiving libbpf's output.
func withLibbpf(s *logSink, fn func()) {
	libbpfMu.Lock()
	// installed again each time: another library in the process (libbpfgo does) may
	// have put its own callback in place since
	C.bk_set_print()
	defer libbpfMu.Unlock()
	activeSink.Store(s)
	defer activeSink.Store(nil)
	fn()
}

var verifierLogMarker = "-- BEGIN PROG LOAD LOG --"

//export bkLibbpfPrint
func bkLibbpfPrint(level C.int, msg *C.char, n C.int) {
	dispatchLibbpfLog(int(level), C.GoStringN(msg, n))
}

func dispatchLibbpfLog(level int, msg string) {
	s := activeSink.Load()
	if s != nil {
		s.capture.WriteString(msg)
	}
	msg = strings.TrimRight(msg, "\n")
	slevel := slog.LevelDebug
	switch level {
	case libbpfWarn:
		slevel = slog.LevelWarn
	case libbpfInfo:
		slevel = slog.LevelInfo
	}
	// The verifier log comes back in the VerifierError: as a warning it would only
	// repeat it on stderr.
	if strings.Contains(msg, verifierLogMarker) {
		slevel = slog.LevelDebug
	}
	logger := slog.Default()
	if s != nil && s.logger != nil {
		logger = s.logger
	} else if slevel < slog.LevelWarn {
		return
	}
	logger.Log(context.Background(), slevel, msg, "source", "libbpf")
}

var (
	progLogRE    = regexp.MustCompile(`(?s)prog '([^']+)': -- BEGIN PROG LOAD LOG --\n(.*?)-- END PROG LOAD LOG --`)
	progFailedRE = regexp.MustCompile(`prog '([^']+)': failed to load`)
)

// verifierLogs extracts, from libbpf's output, the program that failed to load and every
// verifier log libbpf printed, by program name.
func verifierLogs(out string) (failed string, logs map[string]string) {
	logs = map[string]string{}
	for _, m := range progLogRE.FindAllStringSubmatch(out, -1) {
		logs[m[1]] = m[2]
	}
	if m := progFailedRE.FindStringSubmatch(out); m != nil {
		failed = m[1]
	}
	return failed, logs
}

// verifierMessage returns the verifier's own words from a log: its last line that is not
// one of the statistics lines the kernel appends.
func verifierMessage(log string) string {
	lines := strings.Split(strings.TrimRight(log, "\n"), "\n")
	for i := len(lines) - 1; i >= 0; i-- {
		l := strings.TrimSpace(lines[i])
		switch {
		case l == "",
			strings.HasPrefix(l, "processed "),
			strings.HasPrefix(l, "max_states_per_insn"),
			strings.HasPrefix(l, "verification time"),
			strings.HasPrefix(l, "stack depth"),
			strings.HasPrefix(l, "-- END"):
			continue
		}
		return l
	}
	return ""
}
