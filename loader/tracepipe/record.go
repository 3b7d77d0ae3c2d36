// SPDX-License-Identifier: Apache-2.0

package tracepipe

import (
	"regexp"
	"strconv"
	"strings"
	"time"
)

// Record is one line of the kernel's trace pipe, such as bpf_printk writes:
//
//	minimal-4242  [001] d..31  5678.123456: bpf_trace_printk: BPF triggered from PID 4242.
type Record struct {
	Task    string        // the current task's comm ("<...>" when the kernel lost it)
	PID     int           // the kernel's pid of the current task: the thread ID (a Go program's record may come from any of its threads; its process ID is what bpf_get_current_pid_tgid()>>32 gives)
	CPU     int           // the CPU the event happened on
	Flags   string        // irq/preempt flags, e.g. "d..31" ("" when the kernel omits them)
	Time    time.Duration // the trace clock (time since boot by default)
	Event   string        // "bpf_trace_printk" for bpf_printk
	Message string        // what the program printed, without the trailing newline
	Raw     string        // the whole line
}

var lineRE = regexp.MustCompile(`^\s*(.*)-(\d+)\s+(?:\(\s*[-\d]+\)\s+)?\[(\d+)\]\s+(?:([^\s\d]\S*|\S*[^\s\d.:]\S*)\s+)?(\d+)\.(\d+):\s+([^:\s]+):\s?(.*)$`)

// Parse parses one line of trace_pipe. A line that is not a record (the kernel's
// "CPU:N [LOST n EVENTS]" notes) gives a Record with only Raw and Message set to the line.
func Parse(line string) Record {
	r := Record{Raw: line, Message: line}
	m := lineRE.FindStringSubmatch(line)
	if m == nil {
		return r
	}
	pid, err1 := strconv.Atoi(m[2])
	cpu, err2 := strconv.Atoi(m[3])
	sec, err3 := strconv.ParseInt(m[5], 10, 64)
	frac := m[6]
	if len(frac) > 9 {
		frac = frac[:9]
	}
	frac += strings.Repeat("0", 9-len(frac))
	ns, err4 := strconv.ParseInt(frac, 10, 64)
	if err1 != nil || err2 != nil || err3 != nil || err4 != nil || sec > int64(time.Duration(1<<63-1)/time.Second)-1 {
		return r // numbers out of range: not a line the kernel writes
	}
	r.Task = strings.TrimSpace(m[1])
	r.PID, r.CPU = pid, cpu
	r.Flags = m[4]
	r.Time = time.Duration(sec)*time.Second + time.Duration(ns)
	r.Event = m[7]
	r.Message = strings.TrimRight(m[8], "\n")
	return r
}
