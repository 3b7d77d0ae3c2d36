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
	"syscall"
)

// libbpf has one process-wide print callback. bpfkit installs its own (bk_print in
// bpfkit.c, which calls bkLibbpfPrint) when the package starts, so that libbpf never
// writes to stderr itself, and routes each message to the libbpf call in progress: calls
// that print (open, load, attach, setters, link destroy, close) run under libbpfMu and collect what libbpf
// says. Nothing is logged while the call runs: once the caller knows its result, it logs
// the messages (logSink.emit), except those its error already carries, which go to the
// logger at debug level only (a warning that became the returned error is not printed a
// second time).
var (
	libbpfMu     sync.Mutex
	activeOutput atomic.Pointer[libbpfOutput]
)

func init() { C.bk_set_print() }

// The levels of enum libbpf_print_level.
const (
	libbpfWarn  = 0
	libbpfInfo  = 1
	libbpfDebug = 2
)

// libbpfMsg is one message of libbpf, without its trailing newline.
type libbpfMsg struct {
	level int
	text  string
}

// libbpfOutput is what libbpf printed during one call, in order.
type libbpfOutput []libbpfMsg

// logSink is where one object's libbpf messages go: Options.Logger, or, when that is
// nil, slog.Default() for warnings (the rest is dropped).
type logSink struct {
	logger *slog.Logger
}

// withLibbpf runs fn, a libbpf call, and returns what libbpf printed meanwhile. The
// caller logs it with s.emit once it has built its result.
func withLibbpf(s *logSink, fn func()) libbpfOutput {
	_ = s
	libbpfMu.Lock()
	defer libbpfMu.Unlock()
	// installed again each time: another library in the process (libbpfgo does) may
	// have put its own callback in place since
	C.bk_set_print()
	var out libbpfOutput
	activeOutput.Store(&out)
	defer activeOutput.Store(nil)
	fn()
	return out
}

var verifierLogMarker = "-- BEGIN PROG LOAD LOG --"

//export bkLibbpfPrint
func bkLibbpfPrint(level C.int, msg *C.char, n C.int) {
	m := libbpfMsg{level: int(level), text: strings.TrimRight(C.GoStringN(msg, n), "\n")}
	if out := activeOutput.Load(); out != nil {
		*out = append(*out, m)
		return
	}
	// No libbpf call that prints runs outside withLibbpf; should one (a later libbpf
	// printing where it did not), its words go to slog.Default().
	(&logSink{}).emit(libbpfOutput{m}, nil)
}

// emit logs out: warnings at warn level, the rest at info and debug. said reports the
// messages that the caller's error carries (the failure's diagnosis, the verifier log):
// those are logged at debug level only. With no logger, warnings go to slog.Default()
// and the rest is dropped.
func (s *logSink) emit(out libbpfOutput, said func(i int) bool) {
	for i, m := range out {
		level := slog.LevelDebug
		switch m.level {
		case libbpfWarn:
			level = slog.LevelWarn
		case libbpfInfo:
			level = slog.LevelInfo
		}
		// A verifier log, or a warning the error repeats, would only say twice what
		// the caller gets back.
		if strings.Contains(m.text, verifierLogMarker) || (said != nil && said(i)) {
			level = slog.LevelDebug
		}
		logger := slog.Default()
		if s != nil && s.logger != nil {
			logger = s.logger
		} else if level < slog.LevelWarn {
			continue
		}
		logger.Log(context.Background(), level, m.text, "source", "libbpf")
	}
}

// text returns every message, one per line, for the parsers of verifier logs.
func (out libbpfOutput) text() string {
	var b strings.Builder
	for _, m := range out {
		b.WriteString(m.text)
		b.WriteByte('\n')
	}
	return b.String()
}

// failureWrappers are libbpf's warnings that only repeat, around an errno, that an
// earlier message explained: they are never the diagnosis, and once the failure is
// returned as an error they are not printed as warnings.
var failureWrappers = regexp.MustCompile(`^(?:libbpf: )?(?:failed to load object '|` +
	`prog '[^']*': (?:failed to load: |failed to prepare load attributes: |BPF program load failed: |` +
	regexp.QuoteMeta(verifierLogMarker) + `))`)

// diagnosis is libbpf's own explanation of a failure: the first warning of the failed
// call that is not a wrapper, split into the program or map it names and its words
// without the errno (which the error wraps itself).
type diagnosis struct {
	index   int    // the message in the call's output
	program string // `prog 'NAME': …`
	mapName string // `map 'NAME': …`
	words   string // e.g. "failed to find kernel BTF type ID of 'dummy_fentry'"
	full    string // the message without its errno: "prog 'x': failed to find …"
}

var (
	progPrefix = regexp.MustCompile(`^prog '([^']*)': `)
	mapPrefix  = regexp.MustCompile(`^map '([^']*)': `)
	// the errno libbpf appends: ": -3", ": Invalid argument(-22)", "(-22)", ": -ENOENT"
	errnoSuffix = regexp.MustCompile(`(?::\s*(?:-\d+|-E[A-Z0-9]+|[A-Za-z][A-Za-z ,'/-]*\(-?\d+\))|\(-?\d+\))\.?\s*$`)
)

// diagnose finds the diagnosis in out; ok is false when libbpf gave none.
func (out libbpfOutput) diagnose() (d diagnosis, ok bool) {
	for i, m := range out {
		if m.level != libbpfWarn || failureWrappers.MatchString(m.text) {
			continue
		}
		words := strings.TrimPrefix(strings.TrimSpace(m.text), "libbpf: ")
		if strings.Contains(words, "Retrying without BTF") {
			continue // libbpf recovers from it
		}
		d = diagnosis{index: i}
		d.full = strings.TrimRight(strings.TrimSpace(errnoSuffix.ReplaceAllString(words, "")), ".:")
		d.words = d.full
		if sm := progPrefix.FindStringSubmatch(d.full); sm != nil {
			d.program, d.words = sm[1], d.full[len(sm[0]):]
		} else if sm := mapPrefix.FindStringSubmatch(d.full); sm != nil {
			d.mapName, d.words = sm[1], d.full[len(sm[0]):]
		}
		if d.words == "" {
			continue
		}
		if d.program == "" && d.mapName == "" {
			// libbpf names the map or program in a later message of the chain
			// ("couldn't reuse pinned map at …", then "map 'x': error reusing …")
			for _, later := range out[i+1:] {
				text := strings.TrimPrefix(later.text, "libbpf: ")
				if later.level != libbpfWarn {
					continue
				}
				if sm := progPrefix.FindStringSubmatch(text); sm != nil {
					d.program = sm[1]
					break
				}
				if sm := mapPrefix.FindStringSubmatch(text); sm != nil {
					d.mapName = sm[1]
					break
				}
			}
		}
		return d, true
	}
	return diagnosis{}, false
}

// withoutErrnoText strips from libbpf's words the errno's text libbpf appended
// ("failed to attach to cgroup: Bad file descriptor"): the error wraps the errno.
func withoutErrnoText(words string, errno syscall.Errno) string {
	suffix := ": " + errno.Error()
	if len(words) > len(suffix) && strings.EqualFold(words[len(words)-len(suffix):], suffix) {
		return words[:len(words)-len(suffix)]
	}
	return words
}

// failureSaid reports, for emit, the messages an error built from out carries: the
// diagnosis, the wrappers around it, and the later warnings about the same map or
// program (libbpf's chain back up from the failure).
func (out libbpfOutput) failureSaid(d diagnosis, ok bool) func(int) bool {
	return func(i int) bool {
		m := out[i]
		if m.level != libbpfWarn {
			return false
		}
		if failureWrappers.MatchString(m.text) || (ok && i == d.index) {
			return true
		}
		if !ok || i < d.index {
			return false
		}
		text := strings.TrimPrefix(m.text, "libbpf: ")
		return (d.program != "" && strings.HasPrefix(text, "prog '"+d.program+"': ")) ||
			(d.mapName != "" && strings.HasPrefix(text, "map '"+d.mapName+"': "))
	}
}

// libbpfWords is an errno with libbpf's diagnosis of it, for the calls whose errors are
// built by kernelErr (attach).
type libbpfWords struct {
	words string
	errno syscall.Errno
}

func (e *libbpfWords) Error() string { return e.words + ": " + e.errno.Error() }
func (e *libbpfWords) Unwrap() error { return e.errno }

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
